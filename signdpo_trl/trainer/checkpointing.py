"""Checkpoints that appear whole or not at all: a process killed while saving leaves the previous one resumable."""

from __future__ import annotations

import glob
import os
import shutil

from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints


STAGING_PREFIX = "tmp-"


class AtomicCheckpointMixin:
    """Writes each checkpoint into `tmp-checkpoint-<step>/` and renames it `checkpoint-<step>/` once complete.

    The `Trainer` of transformers 5 writes `checkpoint-<step>/` in place: the model, then the optimizer and scheduler,
    the RNG states (one file per process) and `trainer_state.json` last. A process killed in between leaves a folder
    that `get_last_checkpoint` returns (it looks at folder names only) and that `train(resume_from_checkpoint=...)`
    cannot resume (`FileNotFoundError: .../trainer_state.json`). With this mixin, first in the bases of a `Trainer`
    subclass:

    - every process writes its part into the staging folder, which neither `get_last_checkpoint` nor the rotation of
      old checkpoints (`save_total_limit`) matches;
    - once all processes are done, the process(es) that save rename it to `checkpoint-<step>/` (one `rename`, atomic
      on a POSIX file system), and only then are older checkpoints rotated out, so the newest complete checkpoint is
      never deleted for one still being written;
    - a staging folder that a killed save left behind is removed by the next save, and a checkpoint pushed to the Hub
      is pushed from its final folder.

    This guards against a killed process, not against a power loss: files are not fsynced before the rename.
    """

    _staging_dir: str | None = None
    _deferred_push: bool = False

    def _get_output_dir(self, trial) -> str:
        if self._staging_dir is not None:
            return self._staging_dir
        return super()._get_output_dir(trial)

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        if self._staging_dir is not None:
            # The upload runs in the background: it must read the folder under the name it keeps.
            self._deferred_push = True
            return
        super()._push_from_checkpoint(checkpoint_folder)

    def _save_checkpoint(self, model, trial) -> None:
        run_dir = self._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staging_dir = os.path.join(run_dir, f"{STAGING_PREFIX}{name}")
        # The Trainer's own code writes into `<_get_output_dir()>/<name>`, here `staging_dir/<name>`.
        staged_dir = os.path.join(staging_dir, name)
        checkpoint_dir = os.path.join(run_dir, name)
        if self.args.should_save:
            for stale in glob.glob(os.path.join(glob.escape(run_dir), f"{STAGING_PREFIX}{PREFIX_CHECKPOINT_DIR}-*")):
                shutil.rmtree(stale, ignore_errors=True)
        self.accelerator.wait_for_everyone()

        self._staging_dir = staging_dir
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_dir = None
        if self.state.best_model_checkpoint == staged_dir:
            self.state.best_model_checkpoint = checkpoint_dir
            if self.args.should_save:
                self.state.save_to_json(os.path.join(staged_dir, TRAINER_STATE_NAME))
        self.accelerator.wait_for_everyone()

        if self.args.should_save:
            if os.path.isdir(checkpoint_dir):
                # A checkpoint of this step from an earlier run in the same folder is replaced whole, never merged.
                os.replace(checkpoint_dir, os.path.join(staging_dir, "replaced"))
            os.replace(staged_dir, checkpoint_dir)
            shutil.rmtree(staging_dir, ignore_errors=True)
            rotate_checkpoints(
                output_dir=run_dir,
                save_total_limit=self.args.save_total_limit,
                best_model_checkpoint=self.state.best_model_checkpoint,
                use_mtime=True,
            )
        self.accelerator.wait_for_everyone()
        if self._deferred_push:
            self._deferred_push = False
            super()._push_from_checkpoint(checkpoint_dir)
