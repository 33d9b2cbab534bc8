//! In-process waiting room (being written).
