"""The learner-resident transition buffer: offline data first, online transitions in a ring.

Offline-to-online fine-tuning appends online transitions to the buffer that already holds the
offline data and samples minibatches uniformly from the union (docs/algorithm.md,
"Offline-to-online fine-tuning"). The buffer has a fixed ``capacity`` >= the offline size;
appends start right after the offline rows and wrap to row 0 when the end is reached,
overwriting the oldest rows (offline rows first), as the authors' replay buffer does.
Everything stays on one torch device; nothing crosses to the host per gradient step.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch


def shard_rows(num_rows: int, shard_index: int, num_shards: int, *, seed: int) -> np.ndarray:
    """Sorted row indices of shard ``shard_index`` of ``num_shards``: a seeded permutation of
    the rows split into disjoint parts whose sizes differ by at most one (each learner of a
    data-parallel run holds one; docs/algorithm.md, "Learners and data parallelism")."""
    if not 0 <= shard_index < num_shards or num_shards > num_rows:
        raise ValueError(
            f"cannot take shard {shard_index} of {num_shards} from {num_rows} rows"
        )
    order = np.random.default_rng(seed).permutation(num_rows)
    return np.sort(np.array_split(order, num_shards)[shard_index])


class ResidentReplayBuffer(Mapping[str, torch.Tensor]):
    """Field name -> storage tensor of ``capacity`` rows; rows ``[0, size)`` hold data.

    Offline-only training uses ``capacity = offline size``: the storage is the offline
    tensors themselves and sampling is exactly ``torch.randint(size)``.
    """

    def __init__(self, offline: Mapping[str, torch.Tensor], capacity: int | None = None) -> None:
        lengths = {name: int(t.shape[0]) for name, t in offline.items()}
        size = next(iter(lengths.values()))
        if any(length != size for length in lengths.values()):
            raise ValueError(f"offline fields differ in length: {lengths}")
        capacity = size if capacity is None else int(capacity)
        if capacity < size:
            raise ValueError(
                f"buffer_capacity must hold the offline data ({size} transitions), got {capacity}"
            )
        if capacity == size:
            self._storage = dict(offline)
        else:
            self._storage = {}
            for name, tensor in offline.items():
                storage = tensor.new_zeros((capacity, *tensor.shape[1:]))
                storage[:size] = tensor
                self._storage[name] = storage
        self.offline_size = size
        self.capacity = capacity
        self.size = size
        self.pointer = size % capacity
        self.num_appended = 0

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._storage[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._storage)

    def __len__(self) -> int:
        return len(self._storage)

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``batch_size`` rows drawn i.i.d. uniformly from the ``size`` filled rows."""
        some = next(iter(self._storage.values()))
        index = torch.randint(self.size, (batch_size,), device=some.device, generator=generator)
        return {name: tensor[index] for name, tensor in self._storage.items()}

    def append(self, rows: Mapping[str, torch.Tensor]) -> None:
        """Write ``rows`` (every field, same length) at the ring pointer, wrapping around."""
        missing = sorted(set(self._storage) - set(rows))
        if missing:
            raise ValueError(f"appended transitions lack field(s) {missing}")
        count = int(rows[next(iter(self._storage))].shape[0])
        for name, tensor in rows.items():
            if name in self._storage and int(tensor.shape[0]) != count:
                raise ValueError(
                    f"appended field '{name}' has {int(tensor.shape[0])} rows, expected {count}"
                )
        if count == 0:
            return
        if self.capacity == self.offline_size:
            raise ValueError(
                "this buffer only holds the offline data (buffer_capacity equals the offline "
                "size); online transitions need a larger buffer_capacity"
            )
        kept = min(count, self.capacity)  # rows beyond capacity would be overwritten at once
        index = self._ring_index(self.pointer + count - kept, kept)
        for name, storage in self._storage.items():
            storage[index] = rows[name][count - kept :].to(storage.device, storage.dtype)
        self.pointer = (self.pointer + count) % self.capacity
        self.size = min(self.size + count, self.capacity)
        self.num_appended += count

    def online_rows(self) -> dict[str, torch.Tensor]:
        """The appended rows still in the buffer, oldest first (what a checkpoint needs)."""
        kept = min(self.num_appended, self.capacity)
        index = self._ring_index(self.pointer - kept, kept)
        return {name: storage[index] for name, storage in self._storage.items()}

    def get_state(self) -> dict[str, Any]:
        """Online rows (as numpy) and counters; the offline rows come from the dataset."""
        return {
            "num_appended": self.num_appended,
            "online_rows": {k: v.cpu().numpy() for k, v in self.online_rows().items()},
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Rebuild the ring from freshly loaded offline rows plus the saved online rows.

        Exact for a buffer whose offline rows are intact (a newly built algorithm): the saved
        rows are re-appended so that pointer, size and contents match the saved buffer.
        """
        if self.num_appended > self.capacity - self.offline_size:
            raise ValueError(
                "cannot restore the replay buffer in place: online rows have already "
                "overwritten offline rows; restore into a newly built algorithm "
                "(VGF.from_checkpoint)"
            )
        self.size, self.num_appended = self.offline_size, 0
        self.pointer = self.offline_size % self.capacity
        rows = state["online_rows"]
        kept = len(next(iter(rows.values()))) if rows else 0
        total = int(state["num_appended"])
        if kept == 0:
            return
        skipped = total - kept  # rows that were written and then overwritten before saving
        self.pointer = (self.offline_size + skipped) % self.capacity
        self.size = min(self.offline_size + skipped, self.capacity)
        device = next(iter(self._storage.values())).device
        self.append({k: torch.as_tensor(np.asarray(v), device=device) for k, v in rows.items()})
        self.num_appended = total

    def _ring_index(self, start: int, count: int) -> torch.Tensor:
        device = next(iter(self._storage.values())).device
        return (start + torch.arange(count, device=device)) % self.capacity
