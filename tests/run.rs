//! Running jobs: filled in by the next commit.
