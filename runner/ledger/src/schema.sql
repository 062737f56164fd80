CREATE TABLE bundle (
  id TEXT PRIMARY KEY,            -- hex sha256 of manifest.json
  run_id TEXT NOT NULL,
  tool TEXT NOT NULL,
  suite_digest TEXT NOT NULL,
  target_url TEXT NOT NULL,
  model TEXT NOT NULL,
  observer TEXT,                  -- run.json `observation.observer`; NULL: not an observatory probe
  location TEXT,                  -- run.json `observation.location`
  probe TEXT,                     -- run.json `observation.probe`
  signer TEXT,                    -- key id (tokencert_core::sign::key_id) whose signature verified; NULL: unsigned
  signer_known INTEGER NOT NULL,  -- 1 when that key is in trust.yaml (names/roles are looked up there at display time)
  started_at TEXT NOT NULL,       -- RFC 3339 UTC, as in run.json
  started_unix INTEGER NOT NULL,
  finished_unix INTEGER,
  interrupted INTEGER NOT NULL,   -- 0/1
  exchanges INTEGER NOT NULL,     -- exchanges recorded in the evidence
  answered INTEGER NOT NULL,      -- of them, those with a response head: availability = answered / exchanges
  tokens_billed INTEGER NOT NULL, -- prompt + completion tokens reported in usage, over all exchanges
  must_pass INTEGER NOT NULL, must_fail INTEGER NOT NULL, must_error INTEGER NOT NULL,
  should_pass INTEGER NOT NULL, should_fail INTEGER NOT NULL,
  pinned INTEGER NOT NULL DEFAULT 0,
  evidence_pruned INTEGER NOT NULL DEFAULT 0
);
-- verdict counts per clause area (the AREA of TS-AREA-..., e.g. API, ACC, PERF, REL, SEC) and level
CREATE TABLE verdicts (
  bundle TEXT NOT NULL REFERENCES bundle(id), area TEXT NOT NULL, level TEXT NOT NULL,
  verdict TEXT NOT NULL, cases INTEGER NOT NULL, PRIMARY KEY (bundle, area, level, verdict));
-- key figures of performance cases; a method = (suite_digest of the bundle, case_id, workload, slo)
CREATE TABLE figure (
  bundle TEXT NOT NULL REFERENCES bundle(id), case_id TEXT NOT NULL,
  workload TEXT NOT NULL,         -- hex sha256 of the case's workload as canonical JSON
  slo TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,
  low REAL, high REAL,            -- 95% confidence interval where results.json has one
  PRIMARY KEY (bundle, case_id, metric));
-- metric names (SI units, Prometheus style): ttft_p50_seconds, ttft_p95_seconds, ttft_p99_seconds,
-- tpot_p50_seconds, output_speed_p50_tokens_per_second, error_ratio, goodput_requests_per_second,
-- throughput_output_tokens_per_second, requests
-- cost of one task of the priced workload under each price sheet (micro-units of the sheet's currency)
CREATE TABLE cost (
  bundle TEXT NOT NULL REFERENCES bundle(id), sheet TEXT NOT NULL, currency TEXT NOT NULL,
  task TEXT NOT NULL, micros INTEGER, PRIMARY KEY (bundle, sheet, task));
-- two signers' bundles of the same target, model and method in overlapping windows, compared
-- with tokencert_core::compare (the same as `tokencert compare`)
CREATE TABLE agreement (
  a TEXT NOT NULL REFERENCES bundle(id), b TEXT NOT NULL REFERENCES bundle(id),
  case_id TEXT NOT NULL, consistent INTEGER NOT NULL, summary TEXT NOT NULL,
  PRIMARY KEY (a, b, case_id));
CREATE INDEX bundle_target ON bundle (target_url, model, started_unix);
CREATE INDEX figure_method ON figure (case_id, workload, slo, metric);
-- the dashboard's reads: the newest bundles of one source (a target and model as seen by one
-- observer and signer), newest first
CREATE INDEX bundle_source ON bundle (target_url, model, observer, signer, started_unix, answered, exchanges);
-- summaries of the rows above, for the dashboard's leaderboard (derived: written with a bundle's rows
-- in the same transaction by `add`, and recreated by `rebuild`; a source is (target_url, model,
-- observer, signer), NULLs included, so each table's key is kept unique by the writer, not by SQLite;
-- the newest bundle is the one with the greatest (started_unix, id)).
-- the newest bundle of each source measured by each method
CREATE TABLE latest (
  suite_digest TEXT NOT NULL, case_id TEXT NOT NULL, workload TEXT NOT NULL, slo TEXT NOT NULL,
  target_url TEXT NOT NULL, model TEXT NOT NULL, observer TEXT, signer TEXT,
  bundle TEXT NOT NULL REFERENCES bundle(id), started_unix INTEGER NOT NULL);
CREATE INDEX latest_key ON latest (target_url, model, observer, signer, suite_digest, case_id, workload, slo);
-- the newest bundle of each source and suite with verdicts in each clause area
CREATE TABLE latest_area (
  suite_digest TEXT NOT NULL, target_url TEXT NOT NULL, model TEXT NOT NULL, observer TEXT,
  signer TEXT, area TEXT NOT NULL,
  bundle TEXT NOT NULL REFERENCES bundle(id), started_unix INTEGER NOT NULL);
CREATE INDEX latest_area_key ON latest_area (target_url, model, observer, signer, suite_digest, area);
-- the newest bundle of each source with cost rows
CREATE TABLE latest_cost (
  target_url TEXT NOT NULL, model TEXT NOT NULL, observer TEXT, signer TEXT,
  bundle TEXT NOT NULL REFERENCES bundle(id), started_unix INTEGER NOT NULL);
CREATE INDEX latest_cost_key ON latest_cost (target_url, model, observer, signer);
-- bundles, answered exchanges and exchanges of each source per hour (bundles started in
-- [hour, hour + 3600)): availability over a window ending now is these buckets plus the
-- bundles of the part hour at the window's start (bundle_started)
CREATE TABLE availability (
  hour INTEGER NOT NULL, target_url TEXT NOT NULL, model TEXT NOT NULL, observer TEXT,
  signer TEXT, bundles INTEGER NOT NULL, answered INTEGER NOT NULL, exchanges INTEGER NOT NULL);
CREATE INDEX availability_key ON availability (hour, target_url, model, observer, signer);
CREATE INDEX bundle_started ON bundle (started_unix);
-- identity over time: each fingerprint bundle (one with fingerprint.json) identified with
-- tokencert_core::identify against its target's baseline, the earliest fingerprint bundle of the
-- same target_url, model and probe set (by started_unix, then id); the noise floor is the first two
-- of them (noise_a, noise_b; NULL while there is one). Derived from the fingerprint.json files alone.
CREATE TABLE identity (
  bundle TEXT PRIMARY KEY REFERENCES bundle(id),
  target_url TEXT NOT NULL, model TEXT NOT NULL,
  probe_set TEXT NOT NULL,        -- fingerprint.json `probe_set`, e.g. fp-1
  started_unix INTEGER NOT NULL,
  baseline TEXT NOT NULL REFERENCES bundle(id),
  noise_a TEXT, noise_b TEXT,
  decision TEXT NOT NULL,         -- same_model, different_model, cannot_tell
  greedy_compared INTEGER NOT NULL, greedy_divergent INTEGER NOT NULL, -- generation probes; of them, greedy output differing
  logprob_differences INTEGER NOT NULL,
  logprob_median_micro INTEGER,   -- median |bundle - baseline| log-probability, micro-nats
  noise_median_micro INTEGER,     -- the noise floor's, micro-nats
  tokenizer_implied TEXT NOT NULL, baseline_tokenizer_implied TEXT NOT NULL,
  tokenizer_finding TEXT NOT NULL, -- agrees, differs, inconclusive
  tasks_passed INTEGER NOT NULL, tasks_total INTEGER NOT NULL,
  reasons TEXT NOT NULL           -- the identification's reasons, one a line
);
CREATE INDEX identity_group ON identity (target_url, model, probe_set, started_unix, bundle);
