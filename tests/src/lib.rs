//! Helpers for the integration tests (see tests/).
