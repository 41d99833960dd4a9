"""``fpgatag train-ae``: a compressing autoencoder (quantized encoder for firmware, float decoder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fpgatag.cli.common import (add_command, add_json, add_output, add_training_options, data_inputs, guard,
                                nonnegative_int, positive_int, print_json)

RESIDUAL_COLUMNS = ["variable", "n", "mean", "mean_err", "rms", "rms_err", "median", "central68_half_width"]


def register(subparsers, formatter_class) -> None:
    p = add_command(
        subparsers, "train-ae", cmd_train_ae, formatter_class,
        help="train an autoencoder that compresses jets (quantized encoder for firmware, float decoder offline)",
        description="Train an autoencoder preset (ae-jet: the jet four-vector pt, eta, phi, mass -> 3 values; "
                    "ae-objects: the trigger view's leading candidates) on standardised inputs. Prints the "
                    "per-variable residuals (reco - orig) / orig, the reconstruction loss, the compression in bits "
                    "and, when trained on one class, the anomaly-detection AUC of the other classes. Writes "
                    "encoder/ (for `fpgatag synth` and `fpgatag validate`), decoder/, metrics.json, residuals.png, "
                    "anomaly.png, loss.png, reconstruction.npz, history.json, run.json.")
    p.add_argument("--data", required=True, type=Path, help="jet file")
    add_output(p, "run directory to write", required=True)
    p.add_argument("--preset", default="ae-jet", help="autoencoder preset (models/presets: ae-jet, ae-objects) or preset JSON")
    p.add_argument("--variables", default=None, metavar="A,B,...",
                   help="variables to compress (default: the preset's; ae-jet: pt,eta,phi,mass; m and E also accepted)")
    p.add_argument("--latent", type=positive_int, default=None, help="latent size (default: the preset's; ae-jet: 3)")
    p.add_argument("--bits", type=positive_int, default=None, help="encoder weight/activation bits (default: the preset's)")
    p.add_argument("--latent-bits", type=positive_int, default=None, help="bits of each latent value (default: the preset's)")
    p.add_argument("--n-objects", type=positive_int, default=None, help="trigger-view objects, ae-objects (default: the preset's)")
    p.add_argument("--train-on", default=None, metavar="CLASS",
                   help="train on this class only (anomaly detection: the others are the signal) or 'all' "
                        "(default: the preset's, qcd)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the preset's)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the preset's)")
    add_training_options(p, patience_type=nonnegative_int)
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed")
    p.add_argument("--max-jets", type=positive_int, default=None, help="use a random subset of this many jets")
    add_json(p, "metrics.json")


def cmd_train_ae(args: argparse.Namespace) -> int:
    from fpgatag.core.metrics import format_table
    from fpgatag.train.autoencoder import train_autoencoder

    variables = None if args.variables is None else args.variables.split(",")
    guard(args.output, "run", inputs=data_inputs(args.data), directory=True)
    m = train_autoencoder(args.data, preset=args.preset, out_dir=args.output, variables=variables, latent=args.latent,
                          bits=args.bits, latent_bits=args.latent_bits, n_objects=args.n_objects, train_on=args.train_on,
                          epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, patience=args.patience,
                          seed=args.seed, max_jets=args.max_jets, command=" ".join(sys.argv))
    if args.json:
        print_json(m)
        return 0
    rows = [{"variable": k, **v} for k, v in m["residuals"].items()]
    print(f"residuals (reco - orig) / orig, test split ({m['n_test']} jets):")
    print(format_table(rows, RESIDUAL_COLUMNS))
    c, loss = m["compression"], m["reconstruction_loss"]
    summary = {"reconstruction_mse": loss["mse"], "mse_err": loss["mse_err"], "input_bits": c["input_bits"],
               "latent_bits": c["latent_bits"], "compression": c["ratio"], "vs_float32": c["ratio_vs_float32"]}
    cols = list(summary)
    if "anomaly" in m:
        summary.update(anomaly_auc=m["anomaly"]["auc"], auc_err=m["anomaly"]["auc_err"])
        cols += ["anomaly_auc", "auc_err"]
    print(format_table([summary], cols))
    print(f"encoder: fpgatag synth {args.output / 'encoder'}; fpgatag validate {args.output / 'encoder'} --data {args.data}")
    return 0
