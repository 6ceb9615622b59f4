"""vitcl.dask.embed on a LocalCluster of 2 worker processes: the same rows as one
single-process Model.embed, one model load per worker, shard files and index, resume."""

import json
import os

import distributed
import numpy as np
import pytest

import vitcl
import vitcl.dask

from conftest import DEMO, sample_images


def worker_loads():
    """Run on a worker: how many models vitcl.dask loaded in that process."""
    import vitcl.dask
    return vitcl.dask._loads


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_dask_embed_equals_single_process(client, tmp_path):
    paths = sample_images()
    with vitcl.Model(DEMO) as m:
        want = m.embed(paths, batch_size=4)
        backend = m.info["backend"]
    out = tmp_path / "out"
    index = vitcl.dask.embed(paths, DEMO, client=client, shard_size=8, out_dir=out,
                             backend=backend, batch_size=4, progress=False)
    assert len(index["shards"]) == -(-len(paths) // 8)
    assert json.loads((out / "index.json").read_text()) == index
    rows = 0
    for s in index["shards"]:
        assert s["start"] == rows
        listed = (out / s["paths"]).read_text().splitlines()
        assert listed == paths[rows:rows + s["rows"]]
        rows += s["rows"]
    assert rows == len(paths) == index["count"]
    got = vitcl.dask.load_embeddings(out)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    # both worker processes took part, and each loaded the model once for all its shards
    pids = client.run(os.getpid)
    loads = client.run(worker_loads)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    assert sorted(loads.values()) == [1, 1], loads


def test_dask_embed_resumes(client, tmp_path):
    paths = sample_images()[:12]
    out = tmp_path / "out"
    first = vitcl.dask.embed(paths, DEMO, client=client, shard_size=4, out_dir=out,
                             backend="ref", progress=False)
    full = vitcl.dask.load_embeddings(out)
    # drop one shard's rows and touch up another's paths: only those two are redone
    os.unlink(out / first["shards"][1]["npy"])
    (out / first["shards"][2]["paths"]).write_text("someone else's list\n")
    kept = out / first["shards"][0]["npy"]
    mtime = kept.stat().st_mtime_ns
    again = vitcl.dask.embed(paths, DEMO, client=client, shard_size=4, out_dir=out,
                             backend="ref", progress=True)  # Dask's text progress bar
    assert again == first
    assert (out / first["shards"][2]["paths"]).read_text().splitlines() == paths[8:12]
    assert kept.stat().st_mtime_ns == mtime  # the finished shard was not rewritten
    assert vitcl.dask.load_embeddings(out).tobytes() == full.tobytes()


def test_dask_embed_reports_a_bad_image(client, tmp_path):
    paths = sample_images()[:2] + [str(tmp_path / "missing.png")]
    with pytest.raises(vitcl.FileError, match="missing.png"):
        vitcl.dask.embed(paths, DEMO, client=client, shard_size=2, out_dir=tmp_path / "o",
                         backend="ref", progress=False)
