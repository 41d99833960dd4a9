"""``fpgatag train-teacher`` and ``fpgatag teacher-predict``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fpgatag.cli.common import (add_command, add_json, add_output, add_training_options, data_inputs, guard,
                                nonnegative_int, positive_float, positive_int, print_json)

log = logging.getLogger(__name__)


def register(subparsers, formatter_class) -> None:
    p = add_command(
        subparsers, "train-teacher", cmd_train_teacher, formatter_class,
        help="train a teacher (ParticleNet, ParticleNet-Lite, dense) on the full-resolution particles",
        description="Train a teacher preset on a jet file and write a run directory: model.json + model.h5 + "
                    "inputs.json, metrics.json (test split), roc.png, history.json, run.json. Uses the GPUs "
                    "TensorFlow sees (MirroredStrategy with several, MultiWorkerMirroredStrategy with TF_CONFIG).",
    )
    p.add_argument("--data", required=True, type=Path, help="jet file (any format `fpgatag inspect` reads)")
    p.add_argument("--model", default=None,
                   help="teacher preset name (fpgatag/presets) or preset JSON path (default: particlenet-lite, "
                        "or the --init-from teacher's)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the preset's)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the preset's)")
    add_output(p, "run directory to write", default=Path("runs/teacher"))
    add_training_options(p)
    p.add_argument("--schedule", choices=("one-cycle", "constant"), default=None, help="learning-rate schedule (default: the preset's)")
    p.add_argument("--mixed-precision", action="store_true", help="train in float16 (float32 logits); for GPUs")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (weights, shuffling, --max-jets subset)")
    p.add_argument("--signal", default=None, metavar="NAME",
                   help="the class the rejections are of (a process label of the file; default: the last class)")
    p.add_argument("--max-jets", type=positive_int, default=None, help="use a random subset of this many jets")
    p.add_argument("--n-particles", type=positive_int, default=None, help="particles per jet (default: the preset's)")
    p.add_argument("--fold", default=None, metavar="i/K",
                   help="leave the training jets of fold i (of K, uid-keyed) out: train K such teachers and give all "
                        "K run directories to teacher-predict for out-of-fold soft targets")
    p.add_argument("--init-from", type=Path, default=None, metavar="DIR",
                   help="transfer learning: start from this teacher run directory (its preset and input scaling) "
                        "and fine-tune all weights")
    p.add_argument("--freeze", action="store_true",
                   help="with --init-from: keep the EdgeConv blocks frozen and retrain the layers after them")
    p.add_argument("--lr-factor", type=positive_float, default=None,
                   help="with --init-from: learning rate = the preset's x this (default 0.1 fine-tuning, 1 with --freeze)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stream", dest="stream", action="store_const", const=True, default=None,
                   help="always stream batches from the file (default: stream when inputs exceed $FPGATAG_IN_MEMORY_MB)")
    g.add_argument("--in-memory", dest="stream", action="store_const", const=False, help="load the inputs into memory")
    add_json(p, "the metrics")

    q = add_command(
        subparsers, "teacher-predict", cmd_teacher_predict, formatter_class,
        help="store a teacher's logits for every jet of a file (soft targets for distillation)",
        description="Run a trained teacher over a jet file and write its logits, keyed by jet uid, to "
                    "<data>.logits.<teacher-name>.h5 (or -o FILE). Students load them with the data file's "
                    "fingerprint checked, so logits of other jets are refused.",
    )
    q.add_argument("--teacher", required=True, type=Path, nargs="+", metavar="DIR",
                   help="teacher run directory (from train-teacher), or the K directories of a K-fold teacher "
                        "(train-teacher --fold i/K): each jet then gets the logits of the teacher that never trained on it")
    q.add_argument("--data", required=True, type=Path, help="jet file")
    add_output(q, "logits file (default: <data>.logits.<teacher-name>.h5)")
    q.add_argument("--batch-size", type=positive_int, default=1024, help="inference batch size")
    add_json(q)


def _check_file(path: Path, what: str) -> None:
    from fpgatag.core.errors import FpgatagError

    if not path.exists():
        raise FpgatagError(f"{path}: {what} not found")


def cmd_train_teacher(args: argparse.Namespace) -> int:
    from fpgatag.nn.presets import load_preset
    from fpgatag.train.runs import metrics_table

    _check_file(args.data, "data file")
    guard(args.output, "run", inputs=data_inputs(args.data), directory=True)
    if args.model is not None or args.init_from is None:
        load_preset(args.model or "particlenet-lite", role="teacher")  # unknown names fail before TensorFlow loads
    if args.init_from is not None:
        from fpgatag.train.transfer import check_source

        check_source(args.init_from)
    elif args.freeze or args.lr_factor is not None:
        from fpgatag.core.errors import FpgatagError

        raise FpgatagError("--freeze and --lr-factor need --init-from DIR (the source teacher)")
    fold = None
    if args.fold is not None:
        from fpgatag.core.config import parse_shard
        from fpgatag.core.errors import FpgatagError

        fold = parse_shard(args.fold, option="--fold", what="folds")
        if fold[1] < 2:
            raise FpgatagError(f"--fold {args.fold}: need K >= 2 folds")
    from fpgatag.train.teacher import train_teacher

    metrics = train_teacher(args.data, model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                            out_dir=args.output, learning_rate=args.learning_rate, patience=args.patience,
                            mixed_precision=args.mixed_precision, seed=args.seed, max_jets=args.max_jets,
                            n_particles=args.n_particles, schedule=args.schedule, stream=args.stream,
                            command=" ".join(["fpgatag"] + sys.argv[1:]), fold=fold, init_from=args.init_from,
                            freeze=args.freeze, lr_factor=args.lr_factor, signal=args.signal)
    if args.json:
        print_json({**metrics, "run_dir": str(args.output)})
    else:
        from fpgatag.core.labels import multiclass_text

        print(metrics_table([metrics]))
        if multiclass_text([metrics]):
            print("\n" + multiclass_text([metrics]) + "\n")
        print(f"run directory: {args.output}")
        for name in ("model.json", "model.h5", "inputs.json", "metrics.json", "roc.png", "history.json", "run.json"):
            print(f"  {args.output / name}")
    return 0


def cmd_teacher_predict(args: argparse.Namespace) -> int:
    from fpgatag.core.metrics import format_table

    for teacher in args.teacher:
        _check_file(teacher, "teacher run directory")
    _check_file(args.data, "data file")
    from fpgatag.train.soft_targets import default_output, read_soft_targets, teacher_predict

    guard(args.output or default_output(args.data, args.teacher), "logits", inputs=[*data_inputs(args.data), *args.teacher])

    out = teacher_predict(args.teacher, args.data, output=args.output, batch_size=args.batch_size)
    rec = read_soft_targets(out)
    row = {"teacher": rec["teacher_name"], "out_of_fold": int(rec.get("out_of_fold", 0)),
           "n_jets": int(rec["n_jets"]), "classes": rec["classes"],
           "uid_fingerprint": rec["uid_fingerprint"], "logits": str(out)}
    if args.json:
        print_json(row)
    else:
        print(format_table([row], list(row)))
    return 0
