//! Schemas: what a provider, resource or data source accepts and exposes,
//! built with small builders and turned into the protocol's `Schema`.
//!
//! Besides what Terraform sees (required/optional/computed/sensitive/
//! write-only, Markdown descriptions, nested blocks) an attribute carries the
//! plan behaviour the framework applies for it: a default, "requires
//! replacement" and "use state for unknown", as terraform-plugin-framework's
//! plan modifiers do.

use super::value::{Type, Value};
use crate::proto::tfplugin6 as pb;
use std::collections::BTreeMap;

/// How an attribute behaves when a plan is made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanBehaviour {
    /// Value used when the configuration leaves an optional+computed attribute null.
    pub default: Option<Value>,
    /// A change to this attribute destroys and re-creates the resource.
    pub requires_replace: bool,
    /// A computed value is stable: on update keep the prior value instead of
    /// marking it "known after apply".
    pub use_state_for_unknown: bool,
    /// Strings that differ only in ASCII letter case name the same thing
    /// (e-mail addresses): such a change never forces replacement.
    pub ignores_case: bool,
}

/// One attribute of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute's name.
    pub name: String,
    /// Its cty type.
    pub ty: Type,
    /// Markdown description, also used to generate docs/.
    pub description: String,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// Set by the provider (alone, or when the configuration leaves it null).
    pub computed: bool,
    /// Hidden in plan output and logs.
    pub sensitive: bool,
    /// Never stored in plan or state (protocol 6.9).
    pub write_only: bool,
    /// Deprecated: Terraform warns when it is used.
    pub deprecated: bool,
    /// Plan behaviour applied by the framework.
    pub plan: PlanBehaviour,
}

impl Attribute {
    fn new(name: &str, ty: Type) -> Self {
        Attribute {
            name: name.to_string(),
            ty,
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: false,
            plan: PlanBehaviour::default(),
        }
    }

    /// An attribute the user must set.
    pub fn required(name: &str, ty: Type) -> Self {
        Attribute {
            required: true,
            ..Self::new(name, ty)
        }
    }

    /// An attribute the user may set.
    pub fn optional(name: &str, ty: Type) -> Self {
        Attribute {
            optional: true,
            ..Self::new(name, ty)
        }
    }

    /// An attribute only the provider sets.
    pub fn computed(name: &str, ty: Type) -> Self {
        Attribute {
            computed: true,
            ..Self::new(name, ty)
        }
    }

    /// An attribute the user may set; the provider fills it in otherwise.
    pub fn optional_computed(name: &str, ty: Type) -> Self {
        Attribute {
            optional: true,
            computed: true,
            ..Self::new(name, ty)
        }
    }

    /// Sets the Markdown description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Marks it sensitive.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Marks it write-only (never persisted by Terraform).
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    /// Marks it deprecated.
    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    /// A default for an optional attribute; makes it computed so Terraform
    /// accepts the provider filling it in.
    pub fn default_value(mut self, v: impl Into<Value>) -> Self {
        self.plan.default = Some(v.into());
        self.computed = true;
        self
    }

    /// A change replaces the resource.
    pub fn requires_replace(mut self) -> Self {
        self.plan.requires_replace = true;
        self
    }

    /// Keeps the prior computed value on update.
    pub fn use_state_for_unknown(mut self) -> Self {
        self.plan.use_state_for_unknown = true;
        self
    }

    /// A change of letter case alone does not replace the resource.
    pub fn ignores_case(mut self) -> Self {
        self.plan.ignores_case = true;
        self
    }

    fn to_proto(&self) -> pb::schema::Attribute {
        pb::schema::Attribute {
            name: self.name.clone(),
            r#type: self.ty.to_json_bytes(),
            nested_type: None,
            description: self.description.clone(),
            required: self.required,
            optional: self.optional,
            computed: self.computed,
            sensitive: self.sensitive,
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
            write_only: self.write_only,
        }
    }
}

/// How a nested block repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one, as an object.
    Single,
    /// An ordered list of objects.
    List,
    /// A set of objects.
    Set,
}

/// A nested block, such as `timeouts { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    /// The block type name.
    pub name: String,
    /// Its contents.
    pub block: Block,
    /// How it repeats.
    pub nesting: Nesting,
    /// Minimum number of blocks (list/set).
    pub min_items: i64,
    /// Maximum number of blocks (list/set), 0 for no limit.
    pub max_items: i64,
}

impl NestedBlock {
    /// The cty type of the block's value in its parent object.
    pub fn value_type(&self) -> Type {
        let inner = self.block.value_type();
        match self.nesting {
            Nesting::Single => inner,
            Nesting::List => Type::List(Box::new(inner)),
            Nesting::Set => Type::Set(Box::new(inner)),
        }
    }
}

/// A block: attributes and nested blocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    /// Its attributes, in the order they are documented.
    pub attributes: Vec<Attribute>,
    /// Its nested blocks.
    pub blocks: Vec<NestedBlock>,
    /// Markdown description.
    pub description: String,
    /// Deprecated: Terraform warns when it is used.
    pub deprecated: bool,
}

impl Block {
    /// An empty block.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an attribute.
    pub fn attribute(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }

    /// Adds a nested block.
    pub fn block(mut self, name: &str, nesting: Nesting, block: Block) -> Self {
        self.blocks.push(NestedBlock {
            name: name.to_string(),
            block,
            nesting,
            min_items: 0,
            max_items: if nesting == Nesting::Single { 1 } else { 0 },
        });
        self
    }

    /// Sets the Markdown description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Looks an attribute up by name.
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The object type of a value of this block (its "implied type").
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.ty.clone()))
            .collect();
        for b in &self.blocks {
            attrs.insert(b.name.clone(), b.value_type());
        }
        Type::Object(attrs)
    }

    fn to_proto(&self, version: i64) -> pb::schema::Block {
        pb::schema::Block {
            version,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: self
                .blocks
                .iter()
                .map(|b| pb::schema::NestedBlock {
                    type_name: b.name.clone(),
                    block: Some(b.block.to_proto(0)),
                    nesting: match b.nesting {
                        Nesting::Single => pb::schema::nested_block::NestingMode::Single,
                        Nesting::List => pb::schema::nested_block::NestingMode::List,
                        Nesting::Set => pb::schema::nested_block::NestingMode::Set,
                    } as i32,
                    min_items: b.min_items,
                    max_items: b.max_items,
                })
                .collect(),
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
        }
    }
}

/// A versioned top-level schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    /// Bumped when the stored state layout changes.
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

impl Schema {
    /// A version-0 schema.
    pub fn new(block: Block) -> Self {
        Schema { version: 0, block }
    }

    /// The same schema with another version; state written with a lower
    /// version goes through [`crate::tfplugin::Resource::upgrade_state`].
    pub fn with_version(mut self, version: i64) -> Self {
        self.version = version;
        self
    }

    /// The type of a configuration/state value of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    /// The wire form.
    pub fn to_proto(&self) -> pb::Schema {
        pb::Schema {
            version: self.version,
            block: Some(self.block.to_proto(self.version)),
        }
    }
}

/// The identity of a resource (protocol 6.9): the attributes that identify
/// it for `import` blocks with `identity`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentitySchema {
    /// Bumped when the identity layout changes.
    pub version: i64,
    /// (name, type, description, required for import)
    pub attributes: Vec<IdentityAttribute>,
}

/// One identity attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityAttribute {
    /// Attribute name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Markdown description.
    pub description: String,
    /// Must be given when importing by identity.
    pub required_for_import: bool,
}

impl IdentitySchema {
    /// The object type of identity values.
    pub fn value_type(&self) -> Type {
        Type::Object(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.ty.clone()))
                .collect(),
        )
    }

    /// The wire form.
    pub fn to_proto(&self) -> pb::ResourceIdentitySchema {
        pb::ResourceIdentitySchema {
            version: self.version,
            identity_attributes: self
                .attributes
                .iter()
                .map(|a| pb::resource_identity_schema::IdentityAttribute {
                    name: a.name.clone(),
                    r#type: a.ty.to_json_bytes(),
                    required_for_import: a.required_for_import,
                    optional_for_import: !a.required_for_import,
                    description: a.description.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_flags_and_defaults_make_attributes_computed() {
        let b = Block::new()
            .attribute(Attribute::required("owner", Type::String).description("who"))
            .attribute(Attribute::optional("on_destroy", Type::String).default_value("release"))
            .attribute(Attribute::optional("key", Type::String).sensitive())
            .attribute(Attribute::computed("id", Type::String).use_state_for_unknown());
        let owner = b.get("owner").unwrap();
        assert!(owner.required && !owner.optional && !owner.computed);
        let od = b.get("on_destroy").unwrap();
        assert!(od.optional && od.computed);
        assert_eq!(od.plan.default, Some(Value::from("release")));
        assert!(b.get("key").unwrap().sensitive);
        let p = Schema::new(b).to_proto();
        let block = p.block.unwrap();
        assert_eq!(block.attributes.len(), 4);
        assert_eq!(
            block.attributes[0].description_kind,
            pb::StringKind::Markdown as i32
        );
        assert!(block.attributes[2].sensitive);
    }

    #[test]
    fn value_type_includes_nested_blocks() {
        let b = Block::new()
            .attribute(Attribute::required("a", Type::String))
            .block(
                "timeouts",
                Nesting::Single,
                Block::new().attribute(Attribute::optional("create", Type::String)),
            );
        let Type::Object(m) = b.value_type() else {
            panic!("not an object")
        };
        assert_eq!(m.len(), 2);
        assert!(matches!(m.get("timeouts"), Some(Type::Object(_))));
    }
}
