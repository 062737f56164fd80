#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tokencert_fuzz_targets::sse(data));
