// SPDX-License-Identifier: Apache-2.0
#pragma once
// Farm-scale batches: a manifest of prescription jobs (boundaries + imagery + product settings
// each), every field of every job run through the prescription workflow
// (prescribe_workflow.hpp) in parallel, resumable, shardable, with one farm summary.
//
//   manifest (YAML or CSV) -> one PrescribeJob per job (image opened once, shared by its fields;
//   a `flight_dir:` job first calibrates and mosaics its raw flight once into OUTDIR/<job>/mosaic.tif,
//   calibrate_workflow.hpp, skipped when OUTDIR/<job>/mosaic.json says it is up to date)
//   -> the plan: every (job, field) sorted, this shard's share, up-to-date fields skipped
//   -> fields in parallel (tbb::parallel_for in one arena; each field's tile pass nests in it)
//   -> OUTDIR/<job>/<field>/... then OUTDIR/<job>/<field>/.fieldrx-done.json, last
//   -> OUTDIR/summary.csv, summary.json, index.html (or summary-shard-K-of-N.* when sharded;
//      `fieldrx merge` joins those into the three farm files).
//
// Resuming: a field is up to date when its done-marker holds the hash of everything its
// outputs depend on (input files' paths, sizes and mtimes -- for a flight_dir job every band
// file of the flight and panel folders; the job's settings; the field's id and geometry; the
// fieldrx version). The marker is removed before a field is (re)done and
// written atomically after all its outputs, which are themselves written under temporary
// names and renamed: a batch killed at any moment leaves fields either done or to be redone.
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/config.hpp"

namespace fieldrx {

struct BatchJobSpec {
  std::string name;    // unique; also the job's output folder name
  std::string where;   // "manifest.yaml: job 3" / "fields.csv: row 4", for messages
  YAML::Node settings;  // defaults merged with the job's keys, paths resolved
};

struct BatchManifest {
  std::string path;
  std::string content_hash;  // of the manifest file, so shards of different manifests don't merge
  std::vector<BatchJobSpec> jobs;
  ExecutionSettings execution;  // the manifest's optional `execution:` block
};

// YAML/JSON (`jobs:` list, optional `defaults:` and `execution:`) or CSV (a header row of the
// same keys, one job per row, lists separated by ';'). Relative paths are taken from the
// manifest's folder. Throws ConfigError naming the file, the job and the key.
BatchManifest load_manifest(const std::string& path);

// The keys a job may set, with a one-line description each (for help text and errors).
const std::vector<std::pair<std::string, std::string>>& manifest_keys();

// The prescription pipeline config of one job, writing into `output_dir`.
PipelineConfig batch_job_config(const BatchJobSpec& job, const std::string& output_dir);

// Shard K of N (1-based K). Fields are split round-robin over the (job, field id)-sorted list.
struct Shard {
  int index = 1, count = 1;
  bool sharded() const { return count > 1; }
  std::string name() const;  // "shard-2-of-4"
};
// "K/N" with 1 <= K <= N. Throws ConfigError.
Shard parse_shard(const std::string& text);
// From SLURM_ARRAY_TASK_ID (0- or 1-based, by SLURM_ARRAY_TASK_MIN) and SLURM_ARRAY_TASK_COUNT,
// or from JOB_COMPLETION_INDEX (0-based, Kubernetes Indexed Job) and FIELDRX_SHARD_COUNT.
// No variables: 1/1. Throws ConfigError on inconsistent values.
Shard shard_from_environment();

struct BatchOptions {
  std::string output_dir;
  bool force = false, dry_run = false, quiet = false, force_progress = false;
  Shard shard;
  int threads = 0;
  int tile_px = 0;    // 0: the manifest's, else 512
  int memory_mb = 0;  // 0: the manifest's, else 512
};

// One row of the farm summary (and of a done-marker).
struct BatchRow {
  std::string job, field, crop, index, status, error, folder;  // folder: relative to the summary's folder
  double area_ha = 0, mean_index = 0, total_product = 0;
  int zones = 0, tank_loads = 0;
  std::string product_unit, rate_unit;
  nlohmann::json boundary;  // WGS84 GeoJSON geometry (null when unknown), for the farm map
};
nlohmann::json to_json(const BatchRow& row);
BatchRow batch_row_from_json(const nlohmann::json& j);

struct BatchResult {
  std::vector<BatchRow> rows;  // this shard's, sorted by (job, field)
  int ran = 0, skipped = 0, failed = 0;
  std::vector<std::string> plan;  // "run job/field" / "skip job/field (up to date)", in order
};

// Runs (or, with dry_run, only plans) the batch. Throws for whole-batch problems only; job- and
// field-level failures become rows with status error.
BatchResult run_batch(const BatchManifest& manifest, const BatchOptions& options);

// summary.csv, summary.json and index.html over `rows` into `folder`.
void write_farm_summary(std::vector<BatchRow> rows, const std::string& folder);

// Joins the shard summaries found in `inputs` (folders holding summary-shard-K-of-N.json) into
// the farm summary in `output`. Throws ConfigError when shards are missing, repeated, or come
// from different manifests. Returns the rows.
std::vector<BatchRow> merge_batch_shards(const std::vector<std::string>& inputs, const std::string& output);

}  // namespace fieldrx
