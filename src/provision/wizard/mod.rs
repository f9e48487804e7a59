//! The 7-step wizard of contract §4: fields, defaults, validation, cascades, the POST body.
