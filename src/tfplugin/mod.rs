//! Terraform plugin protocol 6: cty values and their codecs, schemas, diagnostics,
//! the Provider/Resource/DataSource traits and the tonic service dispatching to them.

pub mod value;
