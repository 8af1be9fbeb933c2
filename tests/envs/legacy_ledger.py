"""The collision ledger's per-substep hook as it was before the contact-set plan cache (commit 31a3d45).

:class:`LegacyLedger` is the ledger with that hook, verbatim: ``test_ledger_identity.py`` runs it beside the
current ledger on the same substeps (and swaps it into a whole episode) and holds every record identical.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from mistvla.harness.envs.collisions.config import _COLLISION
from mistvla.harness.envs.collisions.ledger import CollisionLedger, _PairStats


class LegacyLedger(CollisionLedger):
    def _record_substep(self) -> None:
        """Called after every ``sim.step``: aggregate the robot's contacts of this substep."""
        data = self._data
        substep = self._substep
        self._substep = substep + 1
        tick = self._tick = self._tick + 1
        ncon = data.ncon
        if ncon > self._max_ncon:
            self._max_ncon = ncon
        rows: list[int] = []
        if ncon:
            con = data.contact
            geom = con.geom
            robot_side = self._is_robot[geom]
            rows = np.flatnonzero(robot_side[:, 0] | robot_side[:, 1]).tolist()
        if not rows:
            if self._active:
                self._set_active(set(), tick)
            self._above_last = False
            return
        model, force6, gbody = self._model, self._force6, self._geom_body_list
        pairs_geom = geom[rows].tolist()
        pairs_robot = robot_side[rows].tolist()
        dists = con.dist[rows].tolist()
        # (robot body, other body) -> [summed normal force, best row, its force, sign, max penetration]
        sub: dict[tuple[int, int], list[Any]] = {}
        for j, i in enumerate(rows):
            mujoco.mj_contactForce(model, data, i, force6)
            fn = float(force6[0])
            g1, g2 = pairs_geom[j]
            r1, r2 = pairs_robot[j]
            b1, b2, sign = gbody[g1], gbody[g2], 1.0
            if not r1 or (r2 and b2 < b1):
                b1, b2, sign = b2, b1, -1.0
            pen = -dists[j]
            agg = sub.get((b1, b2))
            if agg is None:
                sub[(b1, b2)] = [fn, i, fn, sign, pen]
            else:
                agg[0] += fn
                if fn > agg[2]:
                    agg[1], agg[2], agg[3] = i, fn, sign
                if pen > agg[4]:
                    agg[4] = pen

        active, new_active, above_now = self._active, set(), False
        release_ratio, rearm = self.config.release_ratio, self.config.rearm_substeps
        kinds, body_class, thresholds = self._kind_list, self._body_class_list, self._threshold_list
        pos, frame = con.pos, con.frame
        for key, (total, i, _, sign, pen) in sub.items():
            stats = self._pairs.get(key)
            if stats is None:
                stats = self._pairs[key] = _PairStats()
            stats.n_substeps += 1
            stats.last_substep = substep
            if pen > stats.max_penetration:
                stats.max_penetration = pen
            if total > stats.max_force:
                stats.max_force = total
                stats.position = pos[i].tolist()
                stats.normal = [sign * v for v in frame[i, :3].tolist()]
            if kinds[body_class[key[0]]][body_class[key[1]]] != _COLLISION:
                continue
            threshold = thresholds[key[1]]
            if total >= threshold:
                stats.n_substeps_above += 1
                above_now = True
            if key in active:
                if total >= release_ratio * threshold:
                    new_active.add(key)
            elif total >= threshold:
                new_active.add(key)
                if tick - self._released.get(key, -(1 << 30)) > rearm:
                    normal = [sign * v for v in frame[i, :3].tolist()]
                    position = pos[i].tolist()
                    self._events.append(self._event(key, substep, total, threshold, position, normal, pen))
        self._set_active(new_active, tick)
        self._any_above = self._any_above or above_now
        self._above_last = above_now
