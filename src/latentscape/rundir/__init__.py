"""The run-directory contract, shared by every layer above it (see docs/ARCHITECTURE.md).

model.py      LossOutput, DataInfo, LatentModel (incl. set_step), ModelEntry (+ ModelConfig)
checkpoint.py format-tagged weights / training-state files, loaded with weights_only=True
run.py        Run: config.yaml, checkpoints/, metrics.jsonl, tb/, images/, eval/
lock.py       one writer per run: lock_run (fcntl.flock on RUN/.lock), lock_enclosing_run
callbacks.py  Callback, TrainState (hooks the trainer calls; model families ship some)
load.py       load_run(spec) -> LoadedRun, parse_weight_spec, build_model, data_info_of
"""
