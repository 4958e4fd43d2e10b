//! The contract suite every store adapter passes (filled in below).
