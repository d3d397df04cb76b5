"""Train one model on one TaskData: optimizer, schedule, penalties, early stopping, callbacks.

- :mod:`nas.train.loop`: :func:`train_model` and its record :class:`TrainResult`;
  :func:`merge_train_val` for the final retrain.
- :mod:`nas.train.callbacks`: :class:`Callback`, :class:`LambdaCallback`, :class:`StopTraining`.
- :mod:`nas.train.optim`: :func:`make_optimizer`, :func:`make_scheduler`,
  :func:`steps_per_epoch`.
- :mod:`nas.train.evaluation`: :func:`predict` and :func:`evaluate`.
- :mod:`nas.train.threads`: :func:`configure_threads`, :func:`limit_kernel_cache`.
"""

from __future__ import annotations

from nas.train.callbacks import Callback, LambdaCallback, StopTraining
from nas.train.evaluation import EVAL_BATCH_SIZE, evaluate, predict
from nas.train.loop import TrainResult, merge_train_val, train_model
from nas.train.optim import make_optimizer, make_scheduler, steps_per_epoch
from nas.train.threads import configure_threads, limit_kernel_cache

__all__ = [
    "EVAL_BATCH_SIZE",
    "Callback",
    "LambdaCallback",
    "StopTraining",
    "TrainResult",
    "configure_threads",
    "evaluate",
    "limit_kernel_cache",
    "make_optimizer",
    "make_scheduler",
    "merge_train_val",
    "predict",
    "steps_per_epoch",
    "train_model",
]
