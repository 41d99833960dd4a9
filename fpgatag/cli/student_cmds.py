"""``fpgatag distill``, ``fpgatag train-student`` and ``fpgatag compare``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fpgatag.cli.common import (add_command, add_json, add_output, add_training_options, data_inputs, fraction, guard,
                                nonnegative_int, positive_float, positive_int, print_json)
from fpgatag.core.errors import FpgatagError


def _student_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, type=Path, help="jet file")
    p.add_argument("--student", default="deepsets", help="student preset (fpgatag/presets: deepsets, mlp, dense-student, ...) or preset JSON")
    p.add_argument("--n-objects", type=positive_int, default=16, help="trigger-view objects per jet (per-object students)")
    p.add_argument("--bits", type=positive_int, default=None, help="weight/bias and activation bits (4 to 16; default: the preset's)")
    add_output(p, "run directory to write", required=True)
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the preset's)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the preset's)")
    add_training_options(p)
    p.add_argument("--init-from", type=Path, default=None, metavar="DIR",
                   help="start from this trained student (architecture, weights, inputs; --student/--n-objects/--bits are then its own)")
    p.add_argument("--freeze", action="store_true", help="with --init-from: keep the per-object (phi) layers fixed")
    p.add_argument("--sparsity", type=fraction, default=None, metavar="FRACTION",
                   help="magnitude-prune the dense/conv kernels (all but logits) to this fraction of zeros, "
                        "ramped from 0 over the first epochs (default: the preset's training.sparsity; 0 = no pruning)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (weights, shuffling, --max-jets subset)")
    p.add_argument("--max-jets", type=positive_int, default=None, help="use a random subset of this many jets")
    p.add_argument("--signal", default=None, metavar="NAME",
                   help="the class the rejections are of (a process label of the file; default: the last class)")
    add_json(p, "the metrics")


def register(subparsers, formatter_class) -> None:
    from fpgatag.train import distill as d  # light: TensorFlow is imported inside train_student

    p = add_command(
        subparsers, "distill", cmd_distill, formatter_class,
        help="train a quantized student on the trigger view, distilled from a teacher's stored logits",
        description="Train a student with alpha * CE(label, s) + (1 - alpha) * T^2 * KL(softmax(t/T) || softmax(s/T)), "
                    "t being the teacher's logits stored by `fpgatag teacher-predict` for this data file. With "
                    "--no-teacher the identical student is trained from the labels alone (the baseline). Writes "
                    "model.json + model.h5 + inputs.json, metrics.json, predictions.npz, roc.png, history.json, run.json.")
    _student_args(p)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--teacher", type=Path, default=None, metavar="DIR", help="teacher run directory")
    g.add_argument("--no-teacher", action="store_true", help="train from the labels alone (alpha = 1)")
    p.add_argument("--alpha", type=fraction, default=d.DEFAULT_ALPHA, help="weight of the label term")
    p.add_argument("--temperature", "-T", type=positive_float, default=d.DEFAULT_TEMPERATURE, help="distillation temperature")
    p.add_argument("--logits", type=Path, default=None, metavar="FILE",
                   help="teacher logits file (default: <data>.logits.<teacher-name>.h5)")

    q = add_command(
        subparsers, "train-student", cmd_train_student, formatter_class,
        help="train a quantized student from the labels alone (same as distill --no-teacher)",
        description="Train the student preset on the trigger view from the labels alone: the baseline that "
                    "distilled students are compared with. Same outputs as `fpgatag distill`.")
    _student_args(q)

    c = add_command(
        subparsers, "compare", cmd_compare, formatter_class,
        help="one table of several runs (accuracy, AUC, rejections, parameters, bits) and a ROC overlay",
        description="Print accuracy, AUC, background rejection at eps_S = 0.3 and 0.5, parameter count and bits "
                    "of each run directory, and with -o draw their test-split ROC curves in one plot. Runs "
                    "without stored test predictions (predictions.npz) are evaluated on --data.")
    c.add_argument("runs", nargs="+", type=Path, metavar="DIR", help="run directories (teacher, students)")
    add_output(c, "ROC overlay PNG to write", metavar="PLOT")
    c.add_argument("--data", type=Path, default=None, help="jet file, for runs without stored predictions")
    add_json(c, "the rows")


def _train(args: argparse.Namespace, teacher, alpha: float, temperature: float, logits) -> int:
    from fpgatag.core.labels import multiclass_text, table as format_table   # headers in the shared vocabulary
    from fpgatag.train.distill import train_student

    if args.freeze and args.init_from is None:
        raise FpgatagError("--freeze needs --init-from DIR")
    if not args.data.is_file():
        raise FpgatagError(f"{args.data}: data file not found")
    guard(args.output, "run", inputs=[*data_inputs(args.data), teacher, logits, args.init_from], directory=True)
    metrics = train_student(
        args.data, student=args.student, n_objects=args.n_objects, bits=args.bits, out_dir=args.output,
        teacher_dir=teacher, epochs=args.epochs, batch_size=args.batch_size, alpha=alpha,
        temperature=temperature, init_from=args.init_from, freeze=args.freeze, seed=args.seed,
        max_jets=args.max_jets, learning_rate=args.learning_rate, patience=args.patience, logits_file=logits,
        command=" ".join(sys.argv), sparsity=args.sparsity, signal=args.signal)
    if args.json:
        print_json(metrics)
    else:
        print(format_table([metrics], ["name", "accuracy", "auc", "rejection_at_30", "rejection_at_50",
                                       "n_parameters", "bits", "sparsity", "n_test"]))
        if multiclass_text([metrics]):
            print("\n" + multiclass_text([metrics]))
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    return _train(args, None if args.no_teacher else args.teacher, args.alpha, args.temperature, args.logits)


def cmd_train_student(args: argparse.Namespace) -> int:
    from fpgatag.train.distill import DEFAULT_TEMPERATURE

    return _train(args, None, 1.0, DEFAULT_TEMPERATURE, None)


def cmd_compare(args: argparse.Namespace) -> int:
    from fpgatag.report.compare import compare_runs, compare_table, roc_overlay

    if args.data is not None and not args.data.is_file():
        raise FpgatagError(f"{args.data}: data file not found")
    if args.output is not None:
        guard(args.output, "png", inputs=[*args.runs, *data_inputs(args.data)])
    rows = compare_runs(args.runs)
    if args.output is not None:
        roc_overlay(args.runs, args.output, data=args.data)
    if args.json:
        print_json(rows)
    else:
        print(compare_table(rows))
    return 0
