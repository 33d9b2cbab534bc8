//! Signed queue tokens (being written).
