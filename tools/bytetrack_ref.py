#!/usr/bin/python3
"""Independent Python port of the official ByteTrack tracker (ifzhang/ByteTrack,
yolox/tracker/byte_tracker.py, matching.py, kalman_filter.py), used to check
analytics/bytetrack.c (tests/t_tracker_fidelity.sh).

Reads a reference detections jsonl ({"frame":N,"detections":[{"class_id","score","bbox"}]})
and prints, per frame and per output track, `frame det id x1 y1 x2 y2`: the index of the
detection the track took, its id and its Kalman box after the update.

Deliberate matches with the C side, not with the official driver:
- detections and thresholds are float32, as vapd's vp_det and an_bt_params hold them;
- the low threshold is a parameter (official: 0.1) and so is the new-track threshold
  (official: track_thresh + 0.1); max_lost is given in frames (official: derived from
  track_buffer and the frame rate);
- ids come from a per-tracker counter (official: a process-wide one).
Everything else follows the official code: cython_bbox IoU with the +1 pixel convention,
lap.lapjv(extend_cost=True, cost_limit=t) solved here with scipy's linear_sum_assignment on
the (n+m)x(n+m) matrix lap builds (or, with --lap jv, with a port of lap's own algorithm,
which also picks lap's assignment where several tie exactly), the list bookkeeping of step 5 including its quirks.
"""
import argparse
import json
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment

TRACKED, LOST, REMOVED = 1, 2, 3


class Kalman:
    """deep_sort's constant-velocity filter on (cx, cy, a, h) and velocities."""
    wp = 1. / 20
    wv = 1. / 160

    def __init__(self):
        self.F = np.eye(8)
        for i in range(4):
            self.F[i, 4 + i] = 1.
        self.H = np.eye(4, 8)

    def initiate(self, z):
        mean = np.r_[z, np.zeros(4)]
        h = z[3]
        std = [2 * self.wp * h, 2 * self.wp * h, 1e-2, 2 * self.wp * h,
               10 * self.wv * h, 10 * self.wv * h, 1e-5, 10 * self.wv * h]
        return mean, np.diag(np.square(std))

    def predict(self, mean, cov):
        h = mean[3]
        std = [self.wp * h, self.wp * h, 1e-2, self.wp * h,
               self.wv * h, self.wv * h, 1e-5, self.wv * h]
        q = np.diag(np.square(std))
        mean = np.dot(mean, self.F.T)
        cov = np.linalg.multi_dot((self.F, cov, self.F.T)) + q
        return mean, cov

    def update(self, mean, cov, z):
        h = mean[3]
        r = np.diag(np.square([self.wp * h, self.wp * h, 1e-1, self.wp * h]))
        pm = np.dot(self.H, mean)
        s = np.linalg.multi_dot((self.H, cov, self.H.T)) + r
        lower = np.linalg.cholesky(s)
        pht = np.dot(cov, self.H.T)
        # K^T = S^-1 (P H^T)^T through the two triangular systems.
        y = np.linalg.solve(lower, pht.T)
        kt = np.linalg.solve(lower.T, y)
        k = kt.T
        mean = mean + np.dot(z - pm, k.T)
        cov = cov - np.linalg.multi_dot((k, s, k.T))
        return mean, cov


KF = Kalman()


def tlbr_to_tlwh(b):
    r = np.asarray(b, dtype=np.float64).copy()
    r[2:] -= r[:2]
    return r


def tlwh_to_xyah(t):
    r = np.asarray(t).copy()
    r[:2] += r[2:] / 2
    r[2] /= r[3]
    return r


class Track:
    def __init__(self, tlwh, score, det):
        self.tlwh0 = np.asarray(tlwh, dtype=np.float64)
        self.score = score
        self.det = det
        self.mean = self.cov = None
        self.activated = False
        self.state = 0
        self.id = 0
        self.frame_id = self.start_frame = 0

    def tlbr(self):
        if self.mean is None:
            r = self.tlwh0.copy()
        else:
            r = self.mean[:4].copy()
            r[2] *= r[3]
            r[:2] -= r[2:] / 2
        r[2:] += r[:2]
        return r

    def activate(self, tracker, frame_id):
        tracker.last_id += 1
        self.id = tracker.last_id
        self.mean, self.cov = KF.initiate(tlwh_to_xyah(self.tlwh0))
        self.state = TRACKED
        self.activated = frame_id == 1
        self.frame_id = self.start_frame = frame_id

    def update(self, det, frame_id):
        self.mean, self.cov = KF.update(self.mean, self.cov, tlwh_to_xyah(det.tlwh0))
        self.state = TRACKED
        self.activated = True
        self.frame_id = frame_id
        self.score = det.score
        self.det = det.det


def bbox_overlaps(a, b):
    """cython_bbox.bbox_overlaps: inclusive pixel counting (+1)."""
    out = np.zeros((len(a), len(b)))
    for k, q in enumerate(b):
        qarea = (q[2] - q[0] + 1) * (q[3] - q[1] + 1)
        for n, p in enumerate(a):
            iw = min(p[2], q[2]) - max(p[0], q[0]) + 1
            if iw > 0:
                ih = min(p[3], q[3]) - max(p[1], q[1]) + 1
                if ih > 0:
                    ua = (p[2] - p[0] + 1) * (p[3] - p[1] + 1) + qarea - iw * ih
                    out[n, k] = iw * ih / ua
    return out


def iou_distance(ta, tb):
    return 1 - bbox_overlaps([t.tlbr() for t in ta], [t.tlbr() for t in tb])


def fuse_score(cost, dets):
    if cost.size == 0:
        return cost
    sim = 1 - cost
    scores = np.array([d.score for d in dets], dtype=np.float64)[None, :]
    return 1 - sim * scores


LARGE = 1000000.0


def lapjv(a):
    """lap's lapjv_internal (gatagat/lap lapjv.cpp) step for step: column reduction and
    reduction transfer, two augmenting row reduction passes, Dijkstra augmentation. Only
    needed where several assignments tie exactly; returns x (row -> column)."""
    s = len(a)
    x, y, v = [-1] * s, [0] * s, [LARGE] * s
    for i in range(s):
        for j in range(s):
            if a[i][j] < v[j]:
                v[j], y[j] = a[i][j], i
    unique = [True] * s
    for j in range(s - 1, -1, -1):
        i = y[j]
        if x[i] < 0:
            x[i] = j
        else:
            unique[i] = False
            y[j] = -1
    free = []
    for i in range(s):
        if x[i] < 0:
            free.append(i)
        elif unique[i]:
            mn = LARGE
            for j in range(s):
                if j != x[i] and a[i][j] - v[j] < mn:
                    mn = a[i][j] - v[j]
            v[x[i]] -= mn
    for _ in range(2):
        if not free:
            break
        cur, rounds, new = 0, 0, []
        while cur < len(free):
            rounds += 1
            fi = free[cur]
            cur += 1
            j1, u1, j2, u2 = 0, a[fi][0] - v[0], -1, LARGE
            for j in range(1, s):
                c = a[fi][j] - v[j]
                if c < u2:
                    if c >= u1:
                        u2, j2 = c, j
                    else:
                        u2, u1, j2, j1 = u1, c, j1, j
            i0 = y[j1]
            v1 = v[j1] - (u2 - u1)
            lowers = v1 < v[j1]
            if rounds < cur * s:
                if lowers:
                    v[j1] = v1
                elif i0 >= 0 and j2 >= 0:
                    j1, i0 = j2, y[j2]
                if i0 >= 0:
                    if lowers:
                        cur -= 1
                        free[cur] = i0
                    else:
                        new.append(i0)
            elif i0 >= 0:
                new.append(i0)
            x[fi], y[j1] = j1, fi
        free = new
    for fi in free:
        cols, pred = list(range(s)), [fi] * s
        d = [a[fi][j] - v[j] for j in range(s)]
        lo = hi = ready = 0
        end = -1
        while end < 0:
            if lo == hi:
                ready = lo
                hi, mind = lo + 1, d[cols[lo]]
                for k in range(hi, s):
                    j = cols[k]
                    if d[j] <= mind:
                        if d[j] < mind:
                            hi, mind = lo, d[j]
                        cols[k], cols[hi] = cols[hi], j
                        hi += 1
                for k in range(lo, hi):
                    if y[cols[k]] < 0:
                        end = cols[k]
            if end < 0:
                l2, h2 = lo, hi
                while l2 != h2 and end < 0:
                    j = cols[l2]
                    l2 += 1
                    i, mind = y[j], d[j]
                    h = a[i][j] - v[j] - mind
                    for k in range(h2, s):
                        j = cols[k]
                        red = a[i][j] - v[j] - h
                        if red < d[j]:
                            d[j], pred[j] = red, i
                            if red == mind:
                                if y[j] < 0:
                                    end = j
                                    break
                                cols[k], cols[h2] = cols[h2], j
                                h2 += 1
                if end < 0:
                    lo, hi = l2, h2
        mind = d[cols[lo]]
        for k in range(ready):
            v[cols[k]] += d[cols[k]] - mind
        i, j = -1, end
        while i != fi:
            i = pred[j]
            y[j] = i
            x[i], j = j, x[i]
    return x


SOLVER = "scipy"


def linear_assignment(cost, thresh):
    """lap.lapjv(cost, extend_cost=True, cost_limit=thresh), lap >= 0.4 extension."""
    n, m = cost.shape
    if cost.size == 0:
        return [], list(range(n)), list(range(m))
    ext = np.full((n + m, n + m), thresh / 2.)
    ext[n:, m:] = 0
    ext[:n, :m] = cost
    x = np.full(n, -1)
    y = np.full(m, -1)
    if SOLVER == "jv":
        pairs = enumerate(lapjv(ext.tolist()))
    else:
        pairs = zip(*linear_sum_assignment(ext))
    for r, c in pairs:
        if r < n and c < m:
            x[r], y[c] = c, r
    matches = [(i, x[i]) for i in range(n) if x[i] >= 0]
    return matches, [i for i in range(n) if x[i] < 0], [j for j in range(m) if y[j] < 0]


def joint(a, b):
    seen = set(t.id for t in a)
    res = list(a)
    for t in b:
        if t.id not in seen:
            seen.add(t.id)
            res.append(t)
    return res


def sub(a, b):
    gone = set(t.id for t in b)
    return [t for t in a if t.id not in gone]


def remove_duplicates(ta, tb):
    d = iou_distance(ta, tb)
    dupa, dupb = set(), set()
    for p, q in zip(*np.where(d < 0.15)):
        if ta[p].frame_id - ta[p].start_frame > tb[q].frame_id - tb[q].start_frame:
            dupb.add(q)
        else:
            dupa.add(p)
    return ([t for i, t in enumerate(ta) if i not in dupa],
            [t for i, t in enumerate(tb) if i not in dupb])


class Tracker:
    def __init__(self, high, low, new, match, max_lost):
        self.high, self.low, self.new = np.float32(high), np.float32(low), np.float32(new)
        self.match = float(np.float32(match))
        self.max_lost = max_lost
        self.tracked, self.lost, self.removed = [], [], []
        self.frame_id = 0
        self.last_id = 0

    def update(self, boxes, scores):
        self.frame_id += 1
        fid = self.frame_id
        activated, refind, lost, removed = [], [], [], []
        hi = [i for i in range(len(scores)) if scores[i] > self.high]
        lo = [i for i in range(len(scores)) if self.low < scores[i] < self.high]
        dets = [Track(tlbr_to_tlwh(boxes[i]), float(scores[i]), i) for i in hi]
        dets_second = [Track(tlbr_to_tlwh(boxes[i]), float(scores[i]), i) for i in lo]

        unconfirmed = [t for t in self.tracked if not t.activated]
        confirmed = [t for t in self.tracked if t.activated]
        pool = joint(confirmed, self.lost)
        for t in pool:
            m = t.mean.copy()
            if t.state != TRACKED:
                m[7] = 0
            t.mean, t.cov = KF.predict(m, t.cov)

        matches, u_track, u_det = linear_assignment(
            fuse_score(iou_distance(pool, dets), dets), self.match)
        for i, j in matches:
            t = pool[i]
            (activated if t.state == TRACKED else refind).append(t)
            t.update(dets[j], fid)

        r_tracked = [pool[i] for i in u_track if pool[i].state == TRACKED]
        matches, u_track, _ = linear_assignment(iou_distance(r_tracked, dets_second), 0.5)
        for i, j in matches:
            r_tracked[i].update(dets_second[j], fid)
            activated.append(r_tracked[i])
        for i in u_track:
            t = r_tracked[i]
            if t.state != LOST:
                t.state = LOST
                lost.append(t)

        dets = [dets[j] for j in u_det]
        matches, u_unc, u_det = linear_assignment(
            fuse_score(iou_distance(unconfirmed, dets), dets), 0.7)
        for i, j in matches:
            unconfirmed[i].update(dets[j], fid)
            activated.append(unconfirmed[i])
        for i in u_unc:
            unconfirmed[i].state = REMOVED
            removed.append(unconfirmed[i])

        for j in u_det:
            if np.float32(dets[j].score) < self.new:
                continue
            dets[j].activate(self, fid)
            activated.append(dets[j])

        for t in self.lost:
            if fid - t.frame_id > self.max_lost:
                t.state = REMOVED
                removed.append(t)
        self.tracked = [t for t in self.tracked if t.state == TRACKED]
        self.tracked = joint(joint(self.tracked, activated), refind)
        self.lost = sub(self.lost, self.tracked)
        self.lost.extend(lost)
        self.lost = sub(self.lost, self.removed)   # before this update's removals, as official
        self.removed.extend(removed)
        self.tracked, self.lost = remove_duplicates(self.tracked, self.lost)
        return [t for t in self.tracked if t.activated]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--high", type=float, default=0.5)
    ap.add_argument("--low", type=float, default=0.1)
    ap.add_argument("--new", type=float, default=0.6)
    ap.add_argument("--match", type=float, default=0.8)
    ap.add_argument("--max-lost", type=int, default=30)
    ap.add_argument("--lap", choices=("scipy", "jv"), default="scipy",
                    help="assignment solver: scipy (independent) or jv (lap's own steps, "
                         "for exact ties)")
    a = ap.parse_args()
    global SOLVER
    SOLVER = a.lap
    tr = Tracker(a.high, a.low, a.new, a.match, a.max_lost)
    out = sys.stdout
    prev = None
    for line in open(a.jsonl):
        msg = json.loads(line)
        f = msg["frame"]
        if prev is not None and f != prev + 1:
            sys.exit("bytetrack_ref: frames must be consecutive")
        prev = f
        d = msg["detections"]
        boxes = np.array([x["bbox"] for x in d], dtype=np.float32).astype(np.float64).reshape(-1, 4)
        scores = np.array([x["score"] for x in d], dtype=np.float32)
        for t in tr.update(boxes, scores):
            b = t.tlbr()
            out.write("%d %d %d %.6f %.6f %.6f %.6f\n" % (f, t.det, t.id, b[0], b[1], b[2], b[3]))


if __name__ == "__main__":
    main()
