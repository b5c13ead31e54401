"""Our dataset written in each reference implementation's own input format, for the child scripts of
`reference_epoch.py`: every reference reads the same training pairs as our loader gives our models.

Each writer takes the dataset and a folder (created) and writes what that reference's loader reads:
- `mmrec`: MMRec's layout (`write_mmrec`) in `<folder>/<name>/`, plus DualGNN's `user_graph_dict.npy`.
- `recbole`: RecBole's atomic files, pre-split (`benchmark_filename`): `<folder>/<name>/<name>.train.inter`,
  `.valid.inter`, `.test.inter`, tab-separated with the header `user_id:token<TAB>item_id:token`.
- `selfrec`: SELFRec's `train.txt` and `test.txt`, one `user item 1` line per interaction.
- `hccf`: the HCCF authors' `trnMat.pkl` and `tstMat.pkl`, pickled users x items scipy COO matrices.
- `clcrec`: the CLCRec authors' `Data/<name>/` files: `train.npy` (user, n_users + item) pairs,
  `user_item_all_dict.npy` (every split's items per user, as its sampler reads them), `cold_set.npy`
  (items without a training interaction) and `feat_v.npy` / `feat_a.npy` / `feat_t.npy` (image,
  audio, text rows, item order).
- `elliot`: what Elliot's loaders hand sisinflab's LightGCN-M (Formal-MultiMod-Rec): `train.npy`, the
  training (user, item) pairs, `feat_<modality>.npy`, and `meta.json` (the modality order);
  its framework's loaders (TSV and per-item feature files) are not run, only the model and sampler.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from mmdiffbench.data import write_mmrec
from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.models.dualgnn import cooccurrence_neighbours

USER_GRAPH_KEEP = 200  # neighbours per user in MMRec's dualgnn-gen-u-u-matrix.py
RECBOLE_SPLITS = {"train": "train", "valid": "val", "test": "test"}  # RecBole's suffix -> our split
CLCREC_SLOTS = {"image": "v", "audio": "a", "text": "t"}  # our modality -> CLCRec's feature file


def pairs(matrix: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """The (user, item) indices of a split's nonzeros, user-major."""
    coo = sp.coo_matrix(matrix)
    order = np.lexsort((coo.col, coo.row))
    return coo.row[order].astype(np.int64), coo.col[order].astype(np.int64)


def write_user_graph(dataset: InteractionDataset, path: Path, keep: int = USER_GRAPH_KEEP) -> None:
    """DualGNN's `user_graph_dict.npy` in the form MMRec's preprocessing script saves ({user: [neighbour
    ids, shared training items]}, the `keep` largest counts, largest first), by a sparse product: that
    script compares every pair of users in a Python loop, hours on TikTok."""
    neighbours, counts, lengths = cooccurrence_neighbours(dataset.train, keep)
    graph = {u: [neighbours[u, :n].tolist(), counts[u, :n].tolist()] for u, n in enumerate(lengths.tolist())}
    np.save(path, np.array(graph, dtype=object), allow_pickle=True)


def write_mmrec_layout(dataset: InteractionDataset, folder: Path) -> None:
    """MMRec's layout with DualGNN's user-user file, in `folder/<name>/`."""
    target = folder / dataset.name
    write_mmrec(dataset, target)
    write_user_graph(dataset, target / "user_graph_dict.npy")


def write_recbole(dataset: InteractionDataset, folder: Path) -> None:
    """RecBole's three pre-split atomic `.inter` files in `folder/<name>/`."""
    target = folder / dataset.name
    target.mkdir(parents=True, exist_ok=True)
    for suffix, split in RECBOLE_SPLITS.items():
        users, items = pairs(dataset.split(split))
        lines = [f"{u}\t{i}\n" for u, i in zip(users.tolist(), items.tolist(), strict=True)]
        (target / f"{dataset.name}.{suffix}.inter").write_text("user_id:token\titem_id:token\n" + "".join(lines))


def write_selfrec(dataset: InteractionDataset, folder: Path) -> None:
    """SELFRec's `train.txt` and `test.txt` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, split in (("train", "train"), ("test", "test")):
        users, items = pairs(dataset.split(split))
        (folder / f"{name}.txt").write_text("".join(f"{u} {i} 1\n" for u, i in zip(users.tolist(), items.tolist())))


def write_hccf(dataset: InteractionDataset, folder: Path) -> None:
    """HCCF's `trnMat.pkl` and `tstMat.pkl` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, split in (("trnMat", "train"), ("tstMat", "test")):
        with open(folder / f"{name}.pkl", "wb") as handle:
            pickle.dump(sp.coo_matrix(dataset.split(split), dtype=np.float32), handle)


def write_clcrec(dataset: InteractionDataset, folder: Path) -> None:
    """CLCRec's files in `folder/Data/<name>/` (items numbered after the users, as its code expects)."""
    target = folder / "Data" / dataset.name
    target.mkdir(parents=True, exist_ok=True)
    offset = dataset.n_users
    users, items = pairs(dataset.train)
    np.save(target / "train.npy", np.stack([users, items + offset], axis=1))
    every = sp.csr_matrix(dataset.train + dataset.val + dataset.test)
    every_items = {
        u: (every.indices[every.indptr[u] : every.indptr[u + 1]] + offset).tolist() for u in range(every.shape[0])
    }
    np.save(target / "user_item_all_dict.npy", np.array(every_items, dtype=object), allow_pickle=True)
    cold = np.flatnonzero(np.asarray(dataset.train.sum(0)).ravel() == 0) + offset
    np.save(target / "cold_set.npy", cold.astype(np.int64))
    for modality, slot in CLCREC_SLOTS.items():
        if modality in dataset.features:
            np.save(target / f"feat_{slot}.npy", dataset.features[modality].astype(np.float32))


def write_elliot(dataset: InteractionDataset, folder: Path) -> None:
    """The training pairs and feature rows LightGCN-M's model and sampler take, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "train.npy", np.stack(pairs(dataset.train), axis=1))
    for modality, rows in dataset.features.items():
        np.save(folder / f"feat_{modality}.npy", rows.astype(np.float32))
    (folder / "meta.json").write_text(json.dumps({"modalities": list(dataset.features)}))


WRITERS: dict[str, Callable[[InteractionDataset, Path], None]] = {
    "mmrec": write_mmrec_layout,
    "recbole": write_recbole,
    "selfrec": write_selfrec,
    "hccf": write_hccf,
    "clcrec": write_clcrec,
    "elliot": write_elliot,
}
