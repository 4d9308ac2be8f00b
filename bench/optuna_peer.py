#!/usr/bin/python3
"""Peer for bench_metric_writer: how fast optuna's RDBStorage on SQLite records intermediate values
(trial.report(value, step)), the closest thing optuna has to a metric history. Run with Debian's
/usr/bin/python3 and python3-optuna, default storage settings.

Usage: optuna_peer.py DB_PATH [REPORTS]. Prints one line, "points_per_s=<rate>", or
"points_per_s=n/a" when optuna cannot be imported.
"""
import sys
import time

STEPS_PER_TRIAL = 1000


def main():
    try:
        import optuna
    except ImportError:
        print("points_per_s=n/a")
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = sys.argv[1]
    reports = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    study = optuna.create_study(storage=f"sqlite:///{path}", study_name="bench")

    elapsed = 0.0
    done = 0
    while done < reports:
        trial = study.ask()
        steps = min(STEPS_PER_TRIAL, reports - done)
        start = time.perf_counter()
        for step in range(steps):
            trial.report(1.0 / (step + 1), step)
        elapsed += time.perf_counter() - start
        done += steps
    print(f"points_per_s={reports / elapsed:.1f}")


if __name__ == "__main__":
    main()
