//! The type of a value that sits in a `dynamic` slot: the most specific
//! type that describes it, with one element type per collection.

use super::{PathStep, Type, Value, ValueError, MAX_DEPTH};
use std::collections::BTreeMap;

pub(super) fn infer_type(value: &Value, path: &mut Vec<PathStep>) -> Result<Type, ValueError> {
    if path.len() > MAX_DEPTH {
        return Err(ValueError::too_deep(path));
    }
    let element_type = |items: &mut dyn Iterator<Item = (PathStep, &Value)>,
                        path: &mut Vec<PathStep>|
     -> Result<Type, ValueError> {
        let mut unified = Type::Dynamic;
        for (step, item) in items {
            path.push(step);
            let t = infer_type(item, path)?;
            unified = unify(&unified, &t).ok_or_else(|| {
                ValueError::mismatch(path, format!("elements differ in type ({unified} and {t})"))
            })?;
            path.pop();
        }
        Ok(unified)
    };
    Ok(match value {
        Value::Null | Value::Unknown => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) | Value::Set(items) => {
            let element = element_type(
                &mut items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (PathStep::Index(i), v)),
                path,
            )?;
            if matches!(value, Value::Set(_)) {
                Type::set(element)
            } else {
                Type::list(element)
            }
        }
        Value::Map(entries) => Type::map(element_type(
            &mut entries.iter().map(|(k, v)| (PathStep::Key(k.clone()), v)),
            path,
        )?),
        Value::Object(attrs) => {
            let mut types = BTreeMap::new();
            for (name, v) in attrs {
                path.push(PathStep::Attribute(name.clone()));
                types.insert(name.clone(), infer_type(v, path)?);
                path.pop();
            }
            Type::Object(types)
        }
        Value::Tuple(items) => {
            let mut types = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                types.push(infer_type(v, path)?);
                path.pop();
            }
            Type::Tuple(types)
        }
    })
}

/// Infers a value's type for a dynamic slot, reporting failures at the full path.
pub(crate) fn infer_at(value: &Value, path: &[PathStep]) -> Result<Type, ValueError> {
    value.infer_type().map_err(|e| match e {
        ValueError::Mismatch {
            path: inner,
            message,
        } => {
            let mut steps = path.to_vec();
            steps.extend(inner.steps);
            ValueError::mismatch(&steps, message)
        }
        other => other,
    })
}

/// The one type both `a` and `b` fit, treating `dynamic` (from nulls and unknowns)
/// as fitting anything.
fn unify(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Dynamic, t) | (t, Type::Dynamic) => Some(t.clone()),
        (Type::List(x), Type::List(y)) => Some(Type::list(unify(x, y)?)),
        (Type::Set(x), Type::Set(y)) => Some(Type::set(unify(x, y)?)),
        (Type::Map(x), Type::Map(y)) => Some(Type::map(unify(x, y)?)),
        (Type::Object(x), Type::Object(y)) if x.len() == y.len() => x
            .iter()
            .map(|(k, t)| Some((k.clone(), unify(t, y.get(k)?)?)))
            .collect::<Option<_>>()
            .map(Type::Object),
        (Type::Tuple(x), Type::Tuple(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .map(|(s, t)| unify(s, t))
            .collect::<Option<_>>()
            .map(Type::Tuple),
        (x, y) if x == y => Some(x.clone()),
        _ => None,
    }
}
