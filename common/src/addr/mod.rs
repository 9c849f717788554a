//! Interface identifiers and address arithmetic (being written).
