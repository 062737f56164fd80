//! Prices under conditions: dated price sheets (`suites/prices/*.yaml`)
//! and what a recorded workload costs under each of them.
//!
//! A headline price per token is comparable only with its conditions: the
//! input:output mix, length tiers that re-price a request, cache-hit rates,
//! retries paid for, and the rate limits the price is tied to. The table
//! states each. Money is exact fixed-point (millionths of the currency
//! unit), so the same workload prices to the same bytes. Pure except for
//! [`load_sheets`].

mod money;
mod render;
mod sheet;
mod table;

pub use money::{Cost, DECIMALS, MAX_PRICE_UNITS, PerMillion, PriceError};
pub use render::markdown;
pub use sheet::{
    CachedRate, Limit, OffPeak, PRICES_DIR, PriceSheet, RateLimits, Rates, SHEET_SCHEMA, Tier,
    load_sheets,
};
pub use table::{
    BLEND_INPUT_PER_OUTPUT, Billed, Effective, JOB_TOKENS, JobMinutes, JobTime, PriceRow,
    PriceTable, Task, TaskCost, TaskCount, TokenUsage, Workload, price_table,
};
