-- A copy of the ledger index schema contract (target/briefs/observatory-common.md)
-- until runner/ledger/src/schema.sql exists; the tests build their index from it.
CREATE TABLE bundle (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  tool TEXT NOT NULL,
  suite_digest TEXT NOT NULL,
  target_url TEXT NOT NULL,
  model TEXT NOT NULL,
  observer TEXT,
  location TEXT,
  probe TEXT,
  signer TEXT,
  signer_known INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  started_unix INTEGER NOT NULL,
  finished_unix INTEGER,
  interrupted INTEGER NOT NULL,
  exchanges INTEGER NOT NULL,
  answered INTEGER NOT NULL,
  tokens_billed INTEGER NOT NULL,
  must_pass INTEGER NOT NULL, must_fail INTEGER NOT NULL, must_error INTEGER NOT NULL,
  should_pass INTEGER NOT NULL, should_fail INTEGER NOT NULL,
  pinned INTEGER NOT NULL DEFAULT 0,
  evidence_pruned INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE verdicts (
  bundle TEXT NOT NULL REFERENCES bundle(id), area TEXT NOT NULL, level TEXT NOT NULL,
  verdict TEXT NOT NULL, cases INTEGER NOT NULL, PRIMARY KEY (bundle, area, level, verdict));
CREATE TABLE figure (
  bundle TEXT NOT NULL REFERENCES bundle(id), case_id TEXT NOT NULL,
  workload TEXT NOT NULL,
  slo TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,
  low REAL, high REAL,
  PRIMARY KEY (bundle, case_id, metric));
CREATE TABLE cost (
  bundle TEXT NOT NULL REFERENCES bundle(id), sheet TEXT NOT NULL, currency TEXT NOT NULL,
  task TEXT NOT NULL, micros INTEGER, PRIMARY KEY (bundle, sheet, task));
CREATE TABLE agreement (
  a TEXT NOT NULL REFERENCES bundle(id), b TEXT NOT NULL REFERENCES bundle(id),
  case_id TEXT NOT NULL, consistent INTEGER NOT NULL, summary TEXT NOT NULL,
  PRIMARY KEY (a, b, case_id));
CREATE INDEX bundle_target ON bundle (target_url, model, started_unix);
CREATE INDEX figure_method ON figure (case_id, workload, slo, metric);
