//! Pure statistics: no I/O, no printing, nothing else of ours imported.
