"""Embedding many images on a Dask cluster: vitcl.dask.embed.

The path list is cut into shards; each shard is one Dask task that embeds its images on a
worker and writes OUT_DIR/shard-NNNNNN.npy (the rows) and shard-NNNNNN.paths.txt (one path per
row). Each worker process loads the model once, on its first shard, and keeps it for the
later ones. OUT_DIR/index.json maps shards to rows. A shard whose two files exist and whose
paths file lists exactly its paths is finished and skipped on a rerun, so an interrupted run
resumes where it stopped. docs/scaling.md says how to run this on Slurm or Kubernetes.
"""

import json
import os
import threading
import uuid

import numpy as np

__all__ = ["embed", "load_index", "load_embeddings"]

INDEX_NAME = "index.json"

# model cache of this worker process: (model_path, backend, device) -> vitcl.Model
_models = {}
_models_lock = threading.Lock()
_loads = 0  # how many models this process loaded (tests check "once per worker")


def _worker_model(model_path, backend, device):
    global _loads
    import vitcl

    key = (os.fspath(model_path), backend, device)
    with _models_lock:
        m = _models.get(key)
        if m is None:
            m = vitcl.Model(key[0], backend=backend, device=device)
            _models[key] = m
            _loads += 1
        return m


def _shard_name(i):
    return f"shard-{i:06d}"


def _write_atomic(path, write):
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _paths_text(paths):
    for p in paths:
        if "\n" in p or "\r" in p:
            raise ValueError(f"vitcl.dask.embed: a path with a line break cannot be listed: {p!r}")
    return "".join(p + "\n" for p in paths).encode("utf-8", "surrogateescape")


def _shard_done(out_dir, name, paths):
    npy = os.path.join(out_dir, name + ".npy")
    txt = os.path.join(out_dir, name + ".paths.txt")
    if not (os.path.isfile(npy) and os.path.isfile(txt)):
        return None
    with open(txt, "rb") as f:
        if f.read() != _paths_text(paths):
            return None
    rows = np.load(npy, mmap_mode="r").shape[0]
    return rows if rows == len(paths) else None


def _embed_shard(paths, model_path, backend, device, pool, batch_size, out_dir, name):
    """The task: embed one shard on this worker and write its files (paths first, rows last,
    each atomically, so a shard with both files is complete)."""
    m = _worker_model(model_path, backend, device)
    emb = m.embed(paths, pool=pool, batch_size=batch_size)
    txt = os.path.join(out_dir, name + ".paths.txt")
    npy = os.path.join(out_dir, name + ".npy")
    _write_atomic(txt, lambda f: f.write(_paths_text(paths)))
    _write_atomic(npy, lambda f: np.save(f, emb, allow_pickle=False))
    return {"pid": os.getpid(), "rows": int(emb.shape[0])}


def embed(paths, model_path, client=None, shard_size=1024, out_dir="embeddings", *,
          backend=None, device=None, pool="cls", batch_size=8, progress=True):
    """Embeds the images at paths on a Dask cluster and writes the result under out_dir.

    paths: image file paths (str or os.PathLike), readable by every worker.
    model_path: the model folder, readable by every worker (same path on each node).
    client: a distributed.Client; None uses the current default client.
    shard_size: images per task and per output file. Keep it a multiple of batch_size: the
      rows are then bit for bit those of one Model.embed over the whole list (batches do not
      straddle shards); otherwise they may differ in the last bits on backends whose results
      depend on the batch.
    backend, device, pool, batch_size: as for vitcl.Model and Model.embed.
    progress: show Dask's progress bar (distributed.progress) while the shards run.

    Returns the index (also written to out_dir/index.json): {"model_path", "pool", "count",
    "shard_size", "shards": [{"name", "npy", "paths", "start", "rows"}]}, rows counted from 0
    in path order. Shards already finished in out_dir are not recomputed."""
    import distributed

    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    paths = [os.fspath(p) for p in paths]
    model_path = os.fspath(model_path)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    if client is None:
        client = distributed.default_client()
    shards = []
    for i, start in enumerate(range(0, len(paths), shard_size)):
        shards.append((_shard_name(i), start, paths[start:start + shard_size]))
    run_id = uuid.uuid4().hex[:12]  # Dask keys are per call: a rerun must not find old futures
    futures = []
    for name, start, part in shards:
        if _shard_done(out_dir, name, part) is None:
            futures.append(client.submit(_embed_shard, part, model_path, backend, device, pool,
                                         batch_size, out_dir, name, pure=False,
                                         key=f"vitcl-embed-{name}-{run_id}"))
    if futures:
        if progress:
            distributed.progress(futures)
        client.gather(futures)  # raises the first failed shard's error
    index = {
        "model_path": model_path,
        "pool": pool,
        "count": len(paths),
        "shard_size": shard_size,
        "shards": [{"name": name, "npy": name + ".npy", "paths": name + ".paths.txt",
                    "start": start, "rows": len(part)} for name, start, part in shards],
    }
    data = json.dumps(index, indent=1).encode()
    _write_atomic(os.path.join(out_dir, INDEX_NAME), lambda f: f.write(data))
    return index


def load_index(out_dir):
    """Reads out_dir/index.json."""
    with open(os.path.join(os.fspath(out_dir), INDEX_NAME)) as f:
        return json.load(f)


def load_embeddings(out_dir):
    """All rows of a finished run in path order, concatenated from the shard files."""
    index = load_index(out_dir)
    parts = [np.load(os.path.join(os.fspath(out_dir), s["npy"])) for s in index["shards"]]
    if not parts:
        return np.empty((0, 0), np.float32)
    return np.concatenate(parts, axis=0)
