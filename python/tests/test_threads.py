"""One Model from several threads, several Models at once, and the GIL released while the
library decodes and runs."""

import sys
import threading

import numpy as np

import vitcl

from conftest import BACKENDS, DEMO, MODELS, sample_images

MODEL = MODELS / "cls5_d48_h6_l2_p6_s36"


def run_threads(fn, n):
    errors, out = [], [None] * n

    def body(i):
        try:
            out[i] = fn(i)
        except BaseException as e:  # collected, re-raised in the main thread
            errors.append(e)

    ts = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return out


def test_one_model_many_threads(backend):
    px = np.load(MODEL / "golden" / "native_b3" / "pixel_values.npy")
    paths = sample_images()[:3]
    with vitcl.Model(MODEL, backend=backend) as m, vitcl.Model(DEMO, backend=backend) as d:
        want_run = m.run(px, hidden_states=True)
        want_emb = d.embed(paths)

        def work(i):
            for _ in range(3):
                got = m.run(px, hidden_states=True)
                assert got["last_hidden_state"].tobytes() == \
                    want_run["last_hidden_state"].tobytes()
                assert got["logits"].tobytes() == want_run["logits"].tobytes()
                assert d.embed(paths).tobytes() == want_emb.tobytes()
            return i

        assert run_threads(work, 4) == [0, 1, 2, 3]


def test_models_on_every_backend_at_once():
    px = np.load(MODEL / "golden" / "native_b3" / "pixel_values.npy")
    models = [vitcl.Model(MODEL, backend=b) for b in BACKENDS for _ in range(2)]
    try:
        want = [m.run(px)["last_hidden_state"] for m in models]
        got = run_threads(lambda i: [models[i].run(px)["last_hidden_state"] for _ in range(5)],
                          len(models))
        for w, g in zip(want, got):
            for a in g:
                assert a.tobytes() == w.tobytes()
    finally:
        for m in models:
            m.close()


def test_close_waits_for_running_calls():
    px = np.load(MODEL / "golden" / "native_b3" / "pixel_values.npy")
    m = vitcl.Model(MODEL, backend="ref")
    want = m.run(px)["last_hidden_state"]
    started = threading.Barrier(3)

    def runner(_):
        started.wait()
        try:
            return m.run(px)["last_hidden_state"].tobytes() == want.tobytes()
        except vitcl.Error as e:  # closed before this call took the model: refused cleanly
            return "closed" in str(e)

    def closer(_):
        started.wait()
        m.close()
        return True

    assert all(run_threads(lambda i: closer(i) if i == 2 else runner(i), 3))
    assert m.closed


def main_thread_ran_during(call):
    """True when this thread got to run Python while call() was still running in another
    thread. The switch interval is set far longer than the test, so the other thread keeps the
    GIL until it drops it itself: this thread, waiting on an event set just before call(), can
    wake only when call() releases the GIL."""
    state = {"done": False}
    entered = threading.Event()

    def body():
        entered.set()
        call()
        state["done"] = True

    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        t = threading.Thread(target=body)
        t.start()
        entered.wait()
        inside = not state["done"]
    finally:
        sys.setswitchinterval(old)
    t.join()
    return inside


def test_gil_released_while_running():
    # run() drops the GIL once: around the lock and the forward pass
    px = np.load(MODEL / "golden" / "native_b3" / "pixel_values.npy")
    with vitcl.Model(MODEL, backend="ref") as m:
        m.run(px)
        assert main_thread_ran_during(lambda: m.run(px)), "the GIL was held during run()"


def test_gil_released_while_embedding():
    # embed() drops the GIL once: around decoding, preprocessing and the forward passes
    paths = sample_images()[:2]
    with vitcl.Model(DEMO, backend="ref") as m:
        assert main_thread_ran_during(lambda: m.embed(paths)), "the GIL was held during embed()"
