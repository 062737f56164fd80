//! tokencert-ledger: the observatory's store of verified bundles.
//!
//! Bundles from any signer are stored content-addressed (`bundles/<id>/`,
//! the id being the hex SHA-256 of `manifest.json`) after they verify, and
//! indexed in an embedded SQLite database (`index.sqlite`, schema in
//! `schema.sql`) that is only an index: [`Ledger::rebuild`] recreates it
//! from the files, byte for byte. Bundles of different signers of the same
//! target and method in overlapping windows are compared, and whether they
//! agree is indexed too ([`agreement`]); fingerprint bundles are
//! identified against their target's first fingerprints ([`identity`]).
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod add;
pub mod agreement;
mod error;
pub mod identity;
mod index;
mod ledger;
pub mod methods;
mod prune;
mod rebuild;
pub mod rows;
pub mod summary;
mod trust;

pub use add::{Added, Signature};
pub use error::LedgerError;
pub use index::{AgreementRow, INDEX_FILE, SCHEMA, write_rows};
pub use ledger::{BUNDLES_DIR, Ledger, Listed, PINNED_DIR};
pub use prune::{PRUNED_DIR, Pruned, PrunedRecord};
pub use trust::{Role, Signer, TRUST_FILE, Trust};
