"""RL^2 on the visual maze (Duan et al. 2016, paper §3.3, Table 3).

An agent sees a first-person 40x30 RGB view of a randomly generated maze and must find a red
goal block. A *trial* is n episodes (default 2) in the same maze with the same goal and the same
start pose, so a recurrent policy can explore in episode 1 and walk straight to the goal in
episode 2. The authors built this in ViZDoom; we rebuild the same world as a small batched
raycaster in numpy (see the reference card, "How the original task was built"), which renders
all B trials at once on one CPU core.

Coordinates used everywhere in this file:
  * the maze is an N x N block grid, N = 2*size + 1 (size 3 -> the paper's "5x5", N = 7;
    size 5 -> "9x9", N = 11); walls[i, j] is the block in row i, column j;
  * a *cell* (ci, cj) of the size x size maze is the block (2*ci + 1, 2*cj + 1); the blocks
    between two cells are passages (free) or walls;
  * continuous positions are (x, y) in block units with x = column and y = row, so block
    (i, j) covers x in [j, j+1), y in [i, i+1) and the cell (ci, cj) has its centre at
    (2*cj + 1.5, 2*ci + 1.5);
  * heading index h in 0..NUM_HEADINGS-1 is the angle h * TURN; direction (cos, sin) in (x, y).
    Because y grows downwards (row index), increasing the angle turns clockwise when the maze
    is drawn top-down, i.e. to the agent's right.

The agent (appendix A.3) is a conv net (pixels) or the 18-number local_obs (cheap, "local"), a
learned previous-action embedding, r and d, one FC layer and a GRU shared by policy and value;
the outer loop is trpo.py's first-order TRPO over fixed-length rollouts of B parallel trial slots.

    python rl2_maze.py                                   # train on size 3 (paper's 5x5), pixels, Table 3
                                  # (5M steps; on one CPU core pixels run ~300 steps/s, local ~2000)
    python rl2_maze.py --obs local --total-timesteps 6000000 --out runs/local   # ~50 min: 99% success
    python rl2_maze.py --obs local --eval-only --checkpoint runs/local/checkpoint.pt --eval-size 5 --eval-n 5
    python rl2_maze.py --obs local --resume runs/local    # continue an interrupted run
    python rl2_maze.py --bench                           # renderer / env speed
    python rl2_maze.py --demo pics                       # pictures of the world (random walk + oracle)
    torchrun --nproc_per_node 2 rl2_maze.py --device cuda   # data parallel, as rl2_bandit.py

Outputs under --out: progress.csv (one row per iteration), learning_curve.png, checkpoint.pt,
results.json (Table 3), topdown_good.png / topdown_bad.png (Figure 6 style paths of episodes 1
and 2), trial.gif and frames_episode2.png (the first-person view of one test trial).
"""
import argparse
import csv
import json
import math
import os
import signal
import sys
import time

import matplotlib

matplotlib.use("Agg")  # pictures are only ever written to files
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import trpo
from gru import RecurrentAgent, WNLinear, weight_norm

# ---- The world: mazes, motion, rendering (paper §3.3) ----

# Motion. The reference card measured the authors' Doom settings at about 7-14 degrees of turn
# and about 0.35 of a cell of forward motion per step (frame skip 4). We take 360/32 = 11.25
# degrees so that a quarter turn is exactly 8 steps and headings stay on a grid of 32 (which
# lets the renderer precompute every ray direction), and 0.35 blocks per step (a cell is one
# block wide, so walking from one cell centre to the next, two blocks, takes 6 steps).
NUM_HEADINGS = 32
TURN = 2 * np.pi / NUM_HEADINGS
STEP = 0.35
RADIUS = 0.25  # half-width of the agent's square collision box (corridors are 1 block wide)
GAP = 1e-3  # how far from a wall a blocked move stops, so the box never touches the wall block
GOAL_EPS = 0.05  # the goal counts as touched when the box is within this distance of it

# Rewards (paper §3.3; the authors' code: -0.01 per tic x frame skip 4, -0.001 per wall push).
STEP_REWARD = -0.04
WALL_REWARD = -0.001
GOAL_REWARD = 1.0

# Actions (the authors' set, no backwards).
TURN_LEFT, TURN_RIGHT, FORWARD = 0, 1, 2
NUM_ACTIONS = 3

# Camera. 40x30 like the paper's resized frames; 90 degrees horizontal field of view like Doom.
WIDTH, HEIGHT = 40, 30
FOV = np.pi / 2
FOCAL = float((WIDTH / 2) / np.tan(FOV / 2))  # pixels per (block of height / block of depth)

# Block kinds in the per-trial grid the env keeps: free, wall, goal.
FREE, WALL, GOAL = 0, 1, 2

# Colours in [0, 1]; observations are 2*c - 1 (paper appendix: RGB recentred to [-1, 1]).
CEILING_RGB = np.array([0.30, 0.30, 0.36], np.float32)
FLOOR_RGB = np.array([0.46, 0.40, 0.32], np.float32)
KIND_RGB = np.array([[0, 0, 0], [0.78, 0.78, 0.72], [0.95, 0.05, 0.05]], np.float32)
SIDE_Y_SHADE = 0.7  # walls facing +-y are darker than walls facing +-x, as in Wolfenstein/Doom
FOG = 0.25  # brightness 1 / (1 + FOG * distance)

# The cheap "local" observation (no pixels), LOCAL_RAYS probe rays from the agent's left to its
# right; see local_obs() for the layout.
LOCAL_RAYS = 5
LOCAL_DIM = 8 + 2 * LOCAL_RAYS


def _heading_tables(num_rays):
    """Per-heading ray directions for num_rays camera columns: (NUM_HEADINGS, num_rays) arrays.

    Column w looks along dir + plane * cam_x with cam_x from -1 (left edge) to +1 (right edge),
    plane = tan(FOV/2) * (the agent's right-hand direction). The distance the DDA returns along
    such a ray is then the perpendicular (camera-plane) distance, so walls come out straight
    without fish-eye correction (the classic Wolfenstein raycaster)."""
    ang = np.arange(NUM_HEADINGS) * TURN
    cam_x = (2 * (np.arange(num_rays) + 0.5) / num_rays - 1) if num_rays > 1 else np.zeros(1)
    half = np.tan(FOV / 2)
    dx = np.cos(ang)[:, None] - np.sin(ang)[:, None] * half * cam_x[None, :]
    dy = np.sin(ang)[:, None] + np.cos(ang)[:, None] * half * cam_x[None, :]
    return _ray_table(dx, dy)


def _ray_table(dx, dy):
    """What cast_rays needs per (heading, ray) from the ray directions (dx, dy)."""
    # Exactly axis-parallel rays would divide by zero; a tiny offset changes nothing visible.
    dx = np.where(np.abs(dx) < 1e-6, 1e-6, dx)
    dy = np.where(np.abs(dy) < 1e-6, 1e-6, dy)
    return dict(dx=dx.astype(np.float32), dy=dy.astype(np.float32),
                ddx=np.abs(1 / dx).astype(np.float32), ddy=np.abs(1 / dy).astype(np.float32),
                neg_x=dx < 0, neg_y=dy < 0)


PIXEL_RAYS = _heading_tables(WIDTH)


def _probe_tables(num_rays):
    """Ray tables (as _heading_tables) for the local observation's probes: num_rays directions
    spread evenly from 90 degrees left to 90 degrees right of the heading. Unit direction
    vectors, so cast_rays returns the Euclidean distance along each probe."""
    ang = np.arange(NUM_HEADINGS)[:, None] * TURN + np.linspace(-np.pi / 2, np.pi / 2, num_rays)[None, :]
    return _ray_table(np.cos(ang), np.sin(ang))


PROBE_RAYS = _probe_tables(LOCAL_RAYS)
# Pixel-row distance from the horizon (row centres), and the ceiling/floor background per row.
_ROW_OFFSET = np.abs(np.arange(HEIGHT, dtype=np.float32) + 0.5 - HEIGHT / 2)
_BACKGROUND = np.where((np.arange(HEIGHT) < HEIGHT / 2)[None, :],
                       2 * CEILING_RGB[:, None] - 1, 2 * FLOOR_RGB[:, None] - 1).astype(np.float32)
_ROW_OFFSET_T = torch.from_numpy(_ROW_OFFSET)
_BACKGROUND_T = torch.from_numpy(_BACKGROUND)[None, :, :, None]  # (1, 3, H, 1)


def default_horizon(size):
    """Steps per episode: 250 for the paper's 5x5 (size 3), 4x that for larger mazes (9x9)."""
    return 250 if size <= 3 else 1000


def maze_blocks(size):
    """N = 2*size + 1, the side of the block grid of a size x size cell maze."""
    return 2 * size + 1


def make_maze_configs(num, size, seed, exclude=None):
    """Generate num distinct maze configurations with randomised Prim's algorithm.

    Returns a dict of numpy arrays:
      walls   (num, N, N) bool  - True for wall blocks (border included), N = 2*size + 1
      start   (num, 2) int64    - start cell (row, col) in the size x size cell grid
      heading (num,) int64      - start heading index, one of the 4 axis directions
      goal    (num, 2) int64    - goal cell (row, col); its block is red and solid
    Start and goal are different cells at Manhattan distance >= 2 (reference card). Configs are
    distinct in (walls, start, goal) and, if exclude (another such dict) is given, none of them
    appears in exclude: this is how the test set (seed 1) is kept disjoint from the training set
    (seed 0), see make_train_test_configs. Vectorised over mazes; loops only over Prim's steps.
    """
    if size < 2:
        raise ValueError("size must be >= 2 (a 1x1 maze has no room for a start and a goal)")
    rng = np.random.default_rng(seed)
    n_cells = size * size
    cr, cc = np.divmod(np.arange(n_cells), size)
    # The edges between neighbouring cells: right neighbours, then down neighbours.
    right = np.flatnonzero(cc < size - 1)
    down = np.flatnonzero(cr < size - 1)
    e0 = np.concatenate([right, down])
    e1 = np.concatenate([right + 1, down + size])
    N = maze_blocks(size)
    out = {k: [] for k in ("walls", "start", "heading", "goal")}
    got, seen, stalled = 0, _config_keys(exclude) if exclude is not None else None, 0
    while got < num:
        m = 2 * (num - got) + 16  # oversample; duplicates are rare except for tiny mazes
        # Randomised Prim's: grow a tree from a random cell, each step adding a uniformly
        # random edge between the tree and a cell outside it.
        in_tree = np.zeros((m, n_cells), bool)
        in_tree[np.arange(m), rng.integers(n_cells, size=m)] = True
        passage = np.zeros((m, len(e0)), bool)
        for _ in range(n_cells - 1):
            frontier = in_tree[:, e0] != in_tree[:, e1]
            pick = np.argmax(np.where(frontier, rng.random(frontier.shape), -1.0), axis=1)
            passage[np.arange(m), pick] = True
            in_tree[np.arange(m), e0[pick]] = True
            in_tree[np.arange(m), e1[pick]] = True
        walls = np.ones((m, N, N), bool)
        walls[:, 1::2, 1::2] = False  # every cell is free
        # Open the block between the two cells of each passage.
        mid_r = (2 * cr[e0] + 1 + 2 * cr[e1] + 1) // 2
        mid_c = (2 * cc[e0] + 1 + 2 * cc[e1] + 1) // 2
        mi, ei = np.nonzero(passage)
        walls[mi, mid_r[ei], mid_c[ei]] = False
        start = rng.integers(n_cells, size=m)
        far = (np.abs(cr[start][:, None] - cr[None, :]) + np.abs(cc[start][:, None] - cc[None, :])) >= 2
        goal = np.argmax(np.where(far, rng.random(far.shape), -1.0), axis=1)
        heading = rng.integers(4, size=m) * (NUM_HEADINGS // 4)
        batch = dict(walls=walls, start=np.stack([cr[start], cc[start]], 1),
                     heading=heading, goal=np.stack([cr[goal], cc[goal]], 1))
        # Keep the first occurrence of each new (walls, start, goal), in generation order.
        keys = _config_keys(batch)
        prev = np.concatenate([seen, keys]) if seen is not None else keys
        _, first, inverse = np.unique(prev, axis=0, return_index=True, return_inverse=True)
        n_prev = len(prev) - len(keys)
        inverse = inverse.reshape(-1)
        # (a key already in exclude/earlier rounds has its first occurrence before n_prev)
        new = first[inverse[n_prev:]] == n_prev + np.arange(len(keys))
        take = np.flatnonzero(new)[: num - got]
        for k in out:
            out[k].append(batch[k][take])
        seen = prev[np.concatenate([np.arange(n_prev), n_prev + take])]
        got += len(take)
        stalled = stalled + 1 if len(take) == 0 else 0
        if stalled == 20:
            raise ValueError(f"cannot find {num} distinct {size}x{size} maze configurations")
    return {k: np.concatenate(v) for k, v in out.items()}


def _config_keys(cfg):
    """One uint8 row per configuration identifying (walls, start, goal), for dedup/disjointness."""
    walls = cfg["walls"].reshape(len(cfg["walls"]), -1).astype(np.uint8)
    return np.concatenate([walls, cfg["start"].astype(np.uint8), cfg["goal"].astype(np.uint8)], 1)


def make_train_test_configs(size, num=1000):
    """The paper's split: num training configs from seed 0, num test configs from seed 1 that are
    disjoint from the training ones (paper §3.3: "1000 separately generated configurations")."""
    train = make_maze_configs(num, size, seed=0)
    test = make_maze_configs(num, size, seed=1, exclude=train)
    return train, test


def config_grids(configs):
    """(num, N, N) uint8 grids FREE/WALL/GOAL: the walls plus the solid red goal block."""
    grid = configs["walls"].astype(np.uint8)
    g = configs["goal"]
    grid[np.arange(len(grid)), 2 * g[:, 0] + 1, 2 * g[:, 1] + 1] = GOAL
    return grid


def cell_centre(cells):
    """(..., 2) cells (row, col) -> (..., 2) float positions (x, y) of their centres."""
    cells = np.asarray(cells)
    return np.stack([2 * cells[..., 1] + 1.5, 2 * cells[..., 0] + 1.5], -1).astype(np.float64)


def cast_rays(grid, pos, heading, rays):
    """Batched DDA: first solid block along every camera ray of every trial.

    grid (B, N, N) uint8, pos (B, 2) float (x, y), heading (B,) int, rays a _heading_tables dict
    with R rays. Returns dist (B, R) float32 perpendicular distance to the hit, side_y (B, R)
    bool (the ray crossed a horizontal grid line, i.e. hit a wall face facing +-y) and kind
    (B, R) uint8 (WALL or GOAL). All B*R rays march together; a ray leaves the working set when
    it hits. Agents stand in free blocks and the border is solid, so a ray crosses at most N-2
    vertical and N-2 horizontal grid lines before hitting: 2*(N-1) steps always suffice.
    """
    B, N, _ = grid.shape
    R = rays["dx"].shape[1]
    flat = grid.reshape(-1)
    px = np.repeat(pos[:, 0].astype(np.float32), R)
    py = np.repeat(pos[:, 1].astype(np.float32), R)
    h = np.repeat(heading, R), np.tile(np.arange(R), B)
    ddx, ddy, neg_x, neg_y = rays["ddx"][h], rays["ddy"][h], rays["neg_x"][h], rays["neg_y"][h]
    mx, my = np.floor(px), np.floor(py)
    # Distance along the ray to the first vertical / horizontal grid line.
    sdx = np.where(neg_x, px - mx, mx + 1 - px) * ddx
    sdy = np.where(neg_y, py - my, my + 1 - py) * ddy
    # Work with flat block indices: a step in x moves the index by +-1, in y by +-N.
    cell = (np.arange(B).repeat(R) * (N * N) + my.astype(np.int32) * N + mx.astype(np.int32)).astype(np.int32)
    step_x = np.where(neg_x, -1, 1).astype(np.int32)
    step_y = np.where(neg_y, -N, N).astype(np.int32)
    idx = np.arange(B * R)
    dist = np.empty(B * R, np.float32)
    side_y = np.empty(B * R, bool)
    kind = np.empty(B * R, np.uint8)
    for _ in range(2 * (N - 1)):
        go_x = sdx < sdy
        d = np.where(go_x, sdx, sdy)  # distance to the grid line crossed in this step
        cell += np.where(go_x, step_x, step_y)
        sdx += ddx * go_x
        sdy += ddy * ~go_x
        k = flat[cell]
        hit = k != FREE
        if hit.any():
            i = idx[hit]
            dist[i], side_y[i], kind[i] = d[hit], ~go_x[hit], k[hit]
            live = ~hit
            if not live.any():
                break
            idx, cell, sdx, sdy, ddx, ddy, step_x, step_y = (
                a[live] for a in (idx, cell, sdx, sdy, ddx, ddy, step_x, step_y))
    else:
        raise AssertionError("a ray left the maze: the agent is inside a wall or the border is open")
    return dist.reshape(B, R), side_y.reshape(B, R), kind.reshape(B, R)


def render(grid, pos, heading):
    """First-person views, (B, 3, HEIGHT, WIDTH) float32 in [-1, 1].

    One ray per pixel column; each column shows a wall span centred on the horizon with height
    FOCAL / distance (walls are one block tall, the eye is half a block up), flat ceiling above
    and flat floor below. Walls are shaded by distance and by side; the goal block is red. The
    span edges are anti-aliased (pixel coverage), so the image changes smoothly with distance.
    The rays are cast in numpy; the per-pixel composition is one torch.lerp, because numpy's
    broadcasting over the short 40-pixel rows was 2-4x slower (measured, one thread).
    """
    dist, side_y, kind = cast_rays(grid, pos, heading, PIXEL_RAYS)
    shade = 1 / (1 + FOG * dist) * np.where(side_y, np.float32(SIDE_Y_SHADE), np.float32(1))
    wall = 2 * KIND_RGB.T[:, kind] * shade - 1  # (3, B, W) colour of each column in [-1, 1]
    half = torch.from_numpy((0.5 * FOCAL) / dist)  # half height of the wall span in pixels
    # Fraction of each pixel covered by the wall span: (B, H, W).
    cover = (half[:, None, :] - _ROW_OFFSET_T[:, None] + 0.5).clamp_(0, 1)
    wall = torch.from_numpy(wall).permute(1, 0, 2)[:, :, None, :]  # (B, 3, 1, W)
    return torch.lerp(_BACKGROUND_T.expand(len(grid), 3, HEIGHT, WIDTH), wall, cover[:, None]).numpy()


def local_obs(grid, pos, heading):
    """The cheap observation (no pixels), (B, LOCAL_DIM) float32, for CPU-only runs.

    Layout (18 numbers), egocentric where the decision is:
      [0:4]   the 4 blocks next to the agent's block are solid (wall or goal), in the order front,
              right, back, left of the axis direction nearest the heading: a side corridor shows
              up as "left/right open" without the policy having to combine the heading with a
              map-aligned view (with map-aligned flags our agents paced up and down corridors
              and stalled near 40% success; egocentric flags and probes: 75% after 1M steps)
      [4:6]   heading (cos, sin) in the maze's frame: what path integration needs
      [6:8]   position inside the current block, 2*frac - 1: with the heading this makes
              dead-reckoning on the block grid easy (a block boundary crossing is visible)
      [8:13]  5 depth probes: 1 / (1 + distance) along rays at -90, -45, 0, 45, 90 degrees from the
              heading (left to right), so openings beside the agent are seen, not only ahead
      [13:18] for the same rays, 1 if the first block hit is the red goal
    The maze layout and the agent's block are never shown: to walk straight to the goal in
    episode 2 an RNN has to have integrated its own motion in episode 1 and remember where it
    saw the goal, which is the memory the paper's agent needs, without learning vision first.
    """
    B = len(grid)
    x, y = pos[:, 0], pos[:, 1]
    bx, by = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    b = np.arange(B)
    out = np.empty((B, LOCAL_DIM), np.float32)
    # Map-aligned neighbours at +x, +y, -x, -y (heading indices 0, 1/4, 1/2, 3/4 of a turn; the
    # angle grows clockwise on the map, i.e. to the agent's right), rotated to front/right/back/left.
    around = np.stack([grid[b, by, bx + 1], grid[b, by + 1, bx], grid[b, by, bx - 1], grid[b, by - 1, bx]], 1)
    quarter = np.round(heading / (NUM_HEADINGS / 4)).astype(np.int64) % 4
    out[:, 0:4] = around[b[:, None], (quarter[:, None] + np.arange(4)) % 4] != FREE
    out[:, 4] = np.cos(heading * TURN)
    out[:, 5] = np.sin(heading * TURN)
    out[:, 6] = 2 * (x - bx) - 1
    out[:, 7] = 2 * (y - by) - 1
    dist, _, kind = cast_rays(grid, pos, heading, PROBE_RAYS)
    out[:, 8:8 + LOCAL_RAYS] = 1 / (1 + dist)
    out[:, 8 + LOCAL_RAYS:] = kind == GOAL
    return out


def move(grid, pos, heading, actions):
    """Apply actions to poses. Returns new pos (B, 2), new heading (B,), pushed (B,) bool.

    Forward motion is resolved one axis at a time (x then y) for the agent's square box of
    half-width RADIUS: a move that would put the box into a solid block stops GAP short of it,
    the other axis still moves, so the agent slides along walls. pushed is True when a forward
    step was (partly) stopped by a wall or the goal block. STEP < 1 - 2*RADIUS never skips a
    block, so the box can never enter a solid block.
    """
    B = len(grid)
    b = np.arange(B)
    heading = (heading + (actions == TURN_RIGHT) - (actions == TURN_LEFT)) % NUM_HEADINGS
    fwd = actions == FORWARD
    x, y = pos[:, 0].copy(), pos[:, 1].copy()
    dx = np.where(fwd, STEP * np.cos(heading * TURN), 0.0)
    dy = np.where(fwd, STEP * np.sin(heading * TURN), 0.0)
    # x first: the leading edge of the box, and the (at most two) rows the box spans.
    nx = x + dx
    col = np.floor(np.where(dx > 0, nx + RADIUS, nx - RADIUS)).astype(np.int64)
    r0, r1 = np.floor(y - RADIUS).astype(np.int64), np.floor(y + RADIUS).astype(np.int64)
    hit_x = (dx != 0) & ((grid[b, r0, col] != FREE) | (grid[b, r1, col] != FREE))
    x = np.where(hit_x, np.where(dx > 0, col - RADIUS - GAP, col + 1 + RADIUS + GAP), nx)
    # then y, with the new x.
    ny = y + dy
    row = np.floor(np.where(dy > 0, ny + RADIUS, ny - RADIUS)).astype(np.int64)
    c0, c1 = np.floor(x - RADIUS).astype(np.int64), np.floor(x + RADIUS).astype(np.int64)
    hit_y = (dy != 0) & ((grid[b, row, c0] != FREE) | (grid[b, row, c1] != FREE))
    y = np.where(hit_y, np.where(dy > 0, row - RADIUS - GAP, row + 1 + RADIUS + GAP), ny)
    return np.stack([x, y], 1), heading, hit_x | hit_y


def goal_distance(pos, goal_cells):
    """Euclidean distance from positions (B, 2) to the goal blocks of goal cells (B, 2)."""
    gx, gy = 2 * goal_cells[:, 1] + 1, 2 * goal_cells[:, 0] + 1  # top-left corner of the block
    ox = np.maximum(np.maximum(gx - pos[:, 0], pos[:, 0] - gx - 1), 0)
    oy = np.maximum(np.maximum(gy - pos[:, 1], pos[:, 1] - gy - 1), 0)
    return np.hypot(ox, oy)


class MazeEnv:
    """B maze trials stepped in lockstep; all state in arrays, no loop over trials.

    MazeEnv(configs, B, n=2, horizon=250, obs_mode="pixels", rng=None, fixed_configs=False)
      configs: a make_maze_configs dict. Each trial runs one configuration for n episodes of at
        most horizon steps (paper: 250 for 5x5, 4x250 for 9x9); maze, goal and start pose stay
        fixed within the trial. When a trial's n-th episode ends the slot starts a new trial with
        a configuration drawn uniformly from configs (CleanRL-style auto reset).
      fixed_configs=True: slot i always runs configuration i (needs B <= len(configs)); a slot
        whose trial ends starts the same configuration again. For deterministic evaluation on
        the test configurations: step until every slot has reported trial_done once.
      obs_mode: "pixels" -> (B, 3, 30, 40) float32 in [-1, 1]; "local" -> (B, LOCAL_DIM).
    reset() -> obs: new trials in every slot.
    step(actions (B,) ints in {0 left, 1 right, 2 forward}) ->
      obs, reward (B,) float32, episode_done (B,) bool, trial_done (B,) bool, info
      reward = -0.04 per step, -0.001 more if the step pushed against a wall, +1 on touching the
      goal (which ends the episode). After an episode ends the returned obs is already the first
      observation of the next episode (the start pose again, or a new trial if trial_done).
      info (arrays over B, meaningful where episode_done): "episode" (index in the trial of the
      episode that ended), "length" (its number of steps), "success" (goal touched, else it hit
      the horizon), "return" (its total reward), "config" (configuration index of the trial that
      was running), "final_pos" (position after this step's move, before any reset), "pushed".
    Public state arrays: config (B,), grid (B, N, N) uint8, pos (B, 2) (x, y), heading (B,),
      t (B,) steps in the current episode, episode (B,) episode index in the current trial.
    """

    def __init__(self, configs, B, n=2, horizon=250, obs_mode="pixels", rng=None, fixed_configs=False):
        if obs_mode not in ("pixels", "local"):
            raise ValueError(f"obs_mode must be 'pixels' or 'local', not {obs_mode!r}")
        if B < 1 or n < 1 or horizon < 1:
            raise ValueError("B, n and horizon must be >= 1")
        if fixed_configs and B > len(configs["walls"]):
            raise ValueError(f"fixed_configs needs B <= {len(configs['walls'])} configurations")
        self.configs, self.B, self.n, self.horizon = configs, B, n, horizon
        self.obs_mode, self.fixed_configs = obs_mode, fixed_configs
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.all_grids = config_grids(configs)
        self.all_start_pos = cell_centre(configs["start"])
        N = self.all_grids.shape[1]
        self.N = N
        self.config = np.zeros(B, np.int64)
        self.grid = np.zeros((B, N, N), np.uint8)
        self.pos = np.zeros((B, 2))
        self.heading = np.zeros(B, np.int64)
        self.t = np.zeros(B, np.int64)
        self.episode = np.zeros(B, np.int64)
        self.ep_return = np.zeros(B)

    @property
    def obs_shape(self):
        return (3, HEIGHT, WIDTH) if self.obs_mode == "pixels" else (LOCAL_DIM,)

    @property
    def goal(self):
        """(B, 2) goal cells (row, col) of the running trials."""
        return self.configs["goal"][self.config]

    def observe(self):
        """Observation of the current state (render or local sensors)."""
        fn = render if self.obs_mode == "pixels" else local_obs
        return fn(self.grid, self.pos, self.heading)

    def _new_trials(self, slots):
        """Start a new trial in the given slots: pick its configuration and load its grid."""
        if self.fixed_configs:
            self.config[slots] = slots
        else:
            self.config[slots] = self.rng.integers(len(self.all_grids), size=len(slots))
        self.grid[slots] = self.all_grids[self.config[slots]]
        self.episode[slots] = 0

    def _start_episode(self, slots):
        c = self.config[slots]
        self.pos[slots] = self.all_start_pos[c]
        self.heading[slots] = self.configs["heading"][c]
        self.t[slots] = 0
        self.ep_return[slots] = 0

    def reset(self):
        """Start new trials in all slots; returns the first observation."""
        slots = np.arange(self.B)
        self._new_trials(slots)
        self._start_episode(slots)
        return self.observe()

    def step(self, actions):
        actions = np.asarray(actions).reshape(-1)
        if actions.shape != (self.B,) or actions.min() < 0 or actions.max() >= NUM_ACTIONS:
            raise ValueError(f"actions must be {self.B} integers in 0..{NUM_ACTIONS - 1}")
        self.pos, self.heading, pushed = move(self.grid, self.pos, self.heading, actions)
        success = goal_distance(self.pos, self.goal) < RADIUS + GOAL_EPS
        reward = STEP_REWARD + WALL_REWARD * pushed + GOAL_REWARD * success
        self.t += 1
        self.ep_return += reward
        episode_done = success | (self.t >= self.horizon)
        trial_done = episode_done & (self.episode == self.n - 1)
        info = {"episode": self.episode.copy(), "length": self.t.copy(), "success": success,
                "return": self.ep_return.copy(), "config": self.config.copy(),
                "final_pos": self.pos.copy(), "pushed": pushed}
        self.episode += episode_done
        if trial_done.any():
            self._new_trials(np.flatnonzero(trial_done))
        if episode_done.any():
            self._start_episode(np.flatnonzero(episode_done))
        return self.observe(), reward.astype(np.float32), episode_done, trial_done, info


def goal_distance_maps(grid):
    """Shortest-path distances (in blocks, 4-neighbour moves) from each free block to the goal,
    (B, N, N) int64 with a large value on solid blocks. Computed by relaxation over all B grids
    at once (N*N sweeps at most). Used by oracle_actions and the tests (goal reachable)."""
    B, N, _ = grid.shape
    big = N * N + 1
    d = np.where(grid == GOAL, 0, big)
    free = grid == FREE
    for _ in range(N * N):
        p = np.pad(d, ((0, 0), (1, 1), (1, 1)), constant_values=big)
        nd = np.minimum(d, 1 + np.minimum(np.minimum(p[:, :-2, 1:-1], p[:, 2:, 1:-1]),
                                          np.minimum(p[:, 1:-1, :-2], p[:, 1:-1, 2:])))
        nd = np.where(free, np.minimum(nd, big), d)
        if np.array_equal(nd, d):
            break
        d = nd
    return d


def oracle_actions(env, dmaps=None):
    """A privileged shortest-path policy (knows the maze and the goal): turn towards the centre
    of the neighbouring block that is closest to the goal, walk when roughly facing it. Its
    episode lengths are a floor for what a memory-based agent can reach in episode 2 (compare
    the paper's Table 3); also used by --demo. dmaps: goal_distance_maps(env.grid), if cached."""
    d = goal_distance_maps(env.grid) if dmaps is None else dmaps
    b = np.arange(env.B)
    bx, by = np.floor(env.pos[:, 0]).astype(np.int64), np.floor(env.pos[:, 1]).astype(np.int64)
    nbr = np.stack([d[b, by, bx + 1], d[b, by + 1, bx], d[b, by, bx - 1], d[b, by - 1, bx]], 1)
    k = np.argmin(nbr, 1)
    tx = bx + np.array([1, 0, -1, 0])[k] + 0.5
    ty = by + np.array([0, 1, 0, -1])[k] + 0.5
    want = np.arctan2(ty - env.pos[:, 1], tx - env.pos[:, 0])
    diff = (want - env.heading * TURN + np.pi) % (2 * np.pi) - np.pi
    return np.where(diff > TURN / 2, TURN_RIGHT, np.where(diff < -TURN / 2, TURN_LEFT, FORWARD))


def plot_topdown(walls, start, goal, paths_ep1, paths_ep2, fname, titles=None, ncols=4):
    """Top-down pictures of several trials in one figure, one panel per trial.

    walls (P, N, N) bool, start (P, 2) and goal (P, 2) cells (row, col), paths_ep1 / paths_ep2
    lists of P arrays (T_i, 2) of positions (x, y) in episode 1 / 2 (None or empty to skip),
    titles: optional P strings (e.g. "success, 52 -> 38 steps"). Walls black, goal red, start
    a green dot, episode 1 orange, episode 2 blue."""
    walls = np.asarray(walls)
    P, N = len(walls), walls.shape[1]
    ncols = min(ncols, P)
    nrows = (P + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.8 * nrows), squeeze=False)
    for p, ax in enumerate(axes.flat):
        ax.axis("off")
        if p >= P:
            continue
        img = np.where(walls[p][..., None], 0.1, 0.97) * np.ones(3)
        gr, gc = 2 * goal[p][0] + 1, 2 * goal[p][1] + 1
        img[gr, gc] = (0.9, 0.1, 0.1)
        ax.imshow(img, extent=(0, N, N, 0), interpolation="nearest")
        sx, sy = cell_centre(start[p])
        ax.plot(sx, sy, "o", color="green", ms=6, zorder=3)
        for paths, colour, lab in ((paths_ep1, "tab:orange", "episode 1"), (paths_ep2, "tab:blue", "episode 2")):
            if paths is not None and len(paths) > p and paths[p] is not None and len(paths[p]):
                path = np.asarray(paths[p])
                ax.plot(path[:, 0], path[:, 1], "-", color=colour, lw=1.5, alpha=0.85, label=lab)
        if titles is not None:
            ax.set_title(titles[p], fontsize=8)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0.05 if handles else 0, 1, 1))
    fig.savefig(fname, dpi=120)
    plt.close(fig)


def _to_rgb(frames):
    """(T, 3, H, W) in [-1, 1] -> (T, H, W, 3) in [0, 1]."""
    return np.clip((np.asarray(frames).transpose(0, 2, 3, 1) + 1) / 2, 0, 1)


def save_frames_strip(frames, fname, ncols=10):
    """Save (T, 3, 30, 40) observations as a grid of frames in one PNG (frame index on each).
    The frames are tiled into one image (2-pixel gaps) and drawn with a single imshow: one
    matplotlib axes per frame cost about 0.1 s each."""
    rgb = _to_rgb(frames)
    T = len(rgb)
    ncols = min(ncols, T)
    nrows = (T + ncols - 1) // ncols
    gap = 2
    tile = np.ones((nrows * (HEIGHT + gap) - gap, ncols * (WIDTH + gap) - gap, 3))
    for t in range(T):  # a few dozen frames: plain indexing is clearer than a reshape trick
        r, c = divmod(t, ncols)
        tile[r * (HEIGHT + gap):r * (HEIGHT + gap) + HEIGHT, c * (WIDTH + gap):c * (WIDTH + gap) + WIDTH] = rgb[t]
    fig = plt.figure(figsize=(1.6 * ncols, 1.2 * nrows))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    ax.imshow(tile, interpolation="nearest")
    for t in range(T):
        r, c = divmod(t, ncols)
        ax.text(c * (WIDTH + gap) + 1, r * (HEIGHT + gap) + 1, str(t), fontsize=6, color="white", va="top")
    fig.savefig(fname, dpi=100)
    plt.close(fig)


def save_frames_gif(frames, fname, fps=10):
    """Save (T, 3, 30, 40) observations as an animated GIF of 160x120 frames (the authors' raw
    frame size), written with Pillow (matplotlib's own dependency) frame by frame, about 50x faster
    than a matplotlib animation. If that fails, writes a PNG strip next to it instead; returns the
    file written."""
    rgb = (_to_rgb(frames) * 255).round().astype(np.uint8)
    try:
        from PIL import Image

        images = [Image.fromarray(f).resize((4 * WIDTH, 4 * HEIGHT), Image.NEAREST) for f in rgb]
        images[0].save(fname, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
        return fname
    except Exception:  # noqa: BLE001 - any writer failure falls back to a still picture
        png = os.path.splitext(fname)[0] + ".png"
        save_frames_strip(frames, png)
        return png


# ---- The agent (paper appendix A.3) ----

# The per-step input the rollout buffer stores and trpo.update replays is one flat tensor:
# [observation flattened, previous action index, previous reward, previous done flag]. One tensor
# (not a dict) because trpo.update slices batch["obs"][:, columns] for its minibatches.
EXTRA_INPUTS = 3


def pack_inputs(obs, prev_action, prev_reward, prev_done):
    """(B, *obs_shape), (B,) x3 -> (B, D + 3) float: the agent's input for one step (see EXTRA_INPUTS).
    The action index travels as a float (0., 1., 2. are exact) and is turned back into an index
    by MazeEmbedding."""
    return torch.cat([obs.flatten(1), prev_action.to(obs.dtype)[:, None], prev_reward[:, None],
                      prev_done[:, None]], 1)


class WNConv2d(nn.Module):
    """A convolution with the paper's weight normalisation (one length g per filter, no
    data-dependent init), Xavier init and zero bias: the conv counterpart of gru.WNLinear."""

    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        w = torch.empty(out_channels, in_channels, kernel_size, kernel_size)
        nn.init.xavier_uniform_(w)
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.g = nn.Parameter(w.flatten(1).norm(dim=1).clone())
        self.stride = stride

    def forward(self, x):
        w = weight_norm(self.weight.flatten(1), self.g).view_as(self.weight)
        return F.conv2d(x, w, self.bias, self.stride)


class MazeEmbedding(nn.Module):
    """phi(o, a_prev, r_prev, d_prev) of appendix A.3 over whole sequences: x (T, B, D + 3) -> (T, B, embed).

    pixels: the 3x30x40 view goes through two conv layers (16 filters 5x5 stride 2, ReLU:
      30x40 -> 13x18 -> 5x7, 560 features); local: the 18 numbers of local_obs() replace them.
    The previous action is embedded by a learned table of `embed` numbers per action (paper: 256),
    written as a weight-normalised linear layer on the one-hot action, so that, like every other
    weight matrix of the network, it has weight normalisation and Xavier init (appendix A).
    [features, action embedding, r_prev, d_prev] -> FC `embed` (paper: 256) + ReLU.
    The T*B frames go through the convs as one batch, so a training replay of a whole buffer
    costs one conv call, not T."""

    def __init__(self, obs_mode, embed=256):
        super().__init__()
        self.obs_mode = obs_mode
        if obs_mode == "pixels":
            self.conv1 = WNConv2d(3, 16, 5, 2)
            self.conv2 = WNConv2d(16, 16, 5, 2)
            features = 16 * 5 * 7
        else:
            self.conv1 = self.conv2 = None
            features = LOCAL_DIM
        self.action = WNLinear(NUM_ACTIONS, embed)
        self.fc = WNLinear(features + embed + 2, embed)

    def forward(self, x):
        lead = x.shape[:-1]
        obs, a, rd = x[..., :-EXTRA_INPUTS], x[..., -3].long(), x[..., -2:]
        if self.conv1 is not None:
            f = obs.reshape(-1, 3, HEIGHT, WIDTH)
            feat = F.relu(self.conv2(F.relu(self.conv1(f)))).reshape(*lead, -1)
        else:
            feat = obs
        emb = self.action(F.one_hot(a, NUM_ACTIONS).to(x.dtype))
        return F.relu(self.fc(torch.cat([feat, emb, rd], -1)))


class MazeAgent(nn.Module):
    """The maze policy: MazeEmbedding -> gru.RecurrentAgent(embed, 3, hidden, shared=True), the
    policy and value sharing one network (appendix A.3). Called like RecurrentAgent, as trpo.update
    expects: agent(x (T, B, D + 3), h0 (B, hidden), reset (T, B) or None, need_value) ->
    logits (T, B, 3), values (T, B) or None, h_T."""

    def __init__(self, obs_mode, hidden=256, embed=256):
        super().__init__()
        self.phi = MazeEmbedding(obs_mode, embed)
        self.core = RecurrentAgent(embed, NUM_ACTIONS, hidden, shared=True)

    def initial_state(self, batch_size, device=None):
        return self.core.initial_state(batch_size, device)

    def policy_parameters(self):
        """Everything but the value head: the trust region and backtracking act on these."""
        return list(self.phi.parameters()) + self.core.policy_parameters()

    def forward(self, x, h0, reset=None, need_value=True):
        return self.core(self.phi(x), h0, reset, need_value)


# ---- Acting: B trial slots stepped together, the GRU state carried across episodes ----
def new_carry(env, agent, device):
    """Reset every slot of env to a new trial and return the rollout carry: what one step hands to
    the next and one rollout to the next (running trials continue across iterations).
      obs (B, ...) on device; h (B, H) GRU state; prev_action/prev_reward/prev_done (B,) the
      placeholders 0, 0, 0 at a trial's first step (paper appendix A); first (B,) 1 where the next
      step is a trial's first step (the GRU state is zeroed there: reset only between trials);
      lengths/success (B, n) and ret (B,) the running trial's per-episode numbers (numpy)."""
    B = env.B
    return {"obs": torch.from_numpy(env.reset()).to(device), "h": agent.initial_state(B, device),
            "prev_action": torch.zeros(B, dtype=torch.long, device=device),
            "prev_reward": torch.zeros(B, device=device), "prev_done": torch.zeros(B, device=device),
            "first": torch.ones(B, device=device),
            "lengths": np.zeros((B, env.n), np.int64), "success": np.zeros((B, env.n), bool), "ret": np.zeros(B)}


def policy_step(agent, carry, generator):
    """One step of the recurrent policy for all slots: returns input x (B, D+3), reset (B,),
    action (B,), logits (B, 3), value (B,); carry["h"] moves on by one step."""
    x = pack_inputs(carry["obs"], carry["prev_action"], carry["prev_reward"], carry["prev_done"])
    reset = carry["first"]
    logits, value, carry["h"] = agent(x[None], carry["h"], reset[None])
    logits = logits[0]
    u = torch.rand(len(x), 1, generator=generator).to(x.device)
    action = torch.searchsorted(torch.softmax(logits, -1).cumsum(-1), u).squeeze(-1).clamp_(max=NUM_ACTIONS - 1)
    return x, reset, action, logits, value[0]


def env_step(env, carry, action):
    """Step env with the actions, update the carry's next inputs and trial statistics.
    Returns rdt (3, B) on the device (reward, episode_done, trial_done of this step), env.step's
    info, and the trials that ended: (slots, lengths (K, n), success (K, n), returns (K,)).
    The next input gets r and d of this step (d = 1 after every episode end, so the policy knows
    an episode ended: paper §2.2), and at a new trial the placeholders 0, 0, 0 instead."""
    obs, r, ed, td, info = env.step(action.cpu().numpy())
    device = carry["obs"].device
    idx = np.flatnonzero(ed)
    carry["lengths"][idx, info["episode"][idx]] = info["length"][idx]
    carry["success"][idx, info["episode"][idx]] = info["success"][idx]
    carry["ret"] += r
    done = np.flatnonzero(td)
    finished = (done, carry["lengths"][done].copy(), carry["success"][done].copy(), carry["ret"][done].copy())
    carry["lengths"][done], carry["success"][done], carry["ret"][done] = 0, False, 0.0
    rdt = torch.from_numpy(np.stack([r, ed, td]).astype(np.float32)).to(device)  # one transfer
    keep = 1 - rdt[2]
    carry["obs"] = torch.from_numpy(obs).to(device)  # the observations go to the device once per step
    carry["prev_action"] = action * keep.long()
    carry["prev_reward"] = rdt[0] * keep
    carry["prev_done"] = rdt[1] * keep
    carry["first"] = rdt[2]
    return rdt, info, finished


@torch.no_grad()
def collect(agent, env, carry, T, generator):
    """A fixed-length rollout of T steps in every slot (CleanRL ppo_atari_lstm style), continuing
    the running trials in carry. Returns (batch, finished):
      batch (on the agent's device): obs (T, B, D+3) the packed inputs, reset (T, B) 1 at each
        trial's first step, actions, logits, values, rewards, trial_end (T, B) 1 at each trial's
        last step, h0 (B, H) the GRU state before step 0, last_value (B,) V of the state after
        step T-1 (bootstraps trials still running; trial_end cuts it for those that ended);
      finished: lengths (K, n), success (K, n), returns (K,) of the trials that ended in it."""
    B = env.B
    device = carry["obs"].device
    h0 = carry["h"].clone()
    D = carry["obs"][0].numel() + EXTRA_INPUTS
    batch = {"obs": torch.empty(T, B, D, device=device), "reset": torch.empty(T, B, device=device),
             "actions": torch.empty(T, B, dtype=torch.long, device=device),
             "logits": torch.empty(T, B, NUM_ACTIONS, device=device), "values": torch.empty(T, B, device=device),
             "rewards": torch.empty(T, B, device=device), "trial_end": torch.empty(T, B, device=device)}
    fin = []
    for t in range(T):
        x, reset, a, logits, v = policy_step(agent, carry, generator)
        rdt, _, finished = env_step(env, carry, a)
        batch["obs"][t], batch["reset"][t], batch["actions"][t] = x, reset, a
        batch["logits"][t], batch["values"][t] = logits, v
        batch["rewards"][t], batch["trial_end"][t] = rdt[0], rdt[2]
        fin.append(finished[1:])
    # V(state after the rollout), without moving the carried state on.
    x = pack_inputs(carry["obs"], carry["prev_action"], carry["prev_reward"], carry["prev_done"])
    _, v, _ = agent(x[None], carry["h"], carry["first"][None])
    batch.update(h0=h0, last_value=v[0])
    lengths, success, returns = (np.concatenate([f[i] for f in fin]) for i in range(3))
    return batch, {"lengths": lengths, "success": success, "returns": returns}


# ---- Evaluation: Table 3 on the test mazes, Figure 6 pictures ----
# Paper Table 3 (best run; reference card): per episode 1..5, (avg length of successful
# trajectories, SE) and success in percent; "% improved". Keyed by our size: 3 = the paper's
# 5x5 ("small"), 5 = its 9x9 ("large", tested with the agent trained on 5x5, horizon x4).
PAPER_TABLE3 = {
    3: {"length": [(52.4, 1.3), (39.1, 0.9), (42.6, 1.0), (43.5, 1.1), (43.9, 1.1)],
        "success_percent": [99.3, 99.6, 99.7, 99.4, 99.6], "improved_percent": 91.7},
    5: {"length": [(180.1, 6.0), (151.8, 5.9), (169.3, 6.3), (162.3, 6.4), (169.3, 6.5)],
        "success_percent": [97.1, 96.7, 95.8, 95.6, 96.1], "improved_percent": 71.4},
}


@torch.no_grad()
def evaluate(agent, configs, n, horizon, obs_mode, device, seed=0, chunk=250, record=0):
    """One trial of n episodes on each configuration (slot i runs configuration i: MazeEnv with
    fixed_configs=True), chunk configurations at a time, actions sampled from the policy.
    Returns a dict: lengths (M, n) int64 and success (M, n) bool per episode, returns (M,) trial
    returns, and with record > 0 the trajectories of the first min(record, chunk) configurations:
    traj = poses (S, R, 3) the (x, y, heading) seen before each step, final (S, R, 2) the
    position after it, episode (S, R) its episode index, live (S, R) the first trial still running."""
    M = len(configs["walls"])
    gen = torch.Generator().manual_seed(seed)
    out = {"lengths": np.zeros((M, n), np.int64), "success": np.zeros((M, n), bool), "returns": np.zeros(M)}
    traj = {"poses": [], "final": [], "episode": [], "live": []}
    for c0 in range(0, M, chunk):
        cfg = {k: v[c0:c0 + chunk] for k, v in configs.items()}
        B = len(cfg["walls"])
        env = MazeEnv(cfg, B, n=n, horizon=horizon, obs_mode=obs_mode, fixed_configs=True)
        carry = new_carry(env, agent, device)
        R = min(record, B) if c0 == 0 else 0
        done = np.zeros(B, bool)
        while not done.all():  # every slot plays its first trial to the end (later ones are ignored)
            if R:
                traj["poses"].append(np.concatenate([env.pos[:R], env.heading[:R, None]], 1))
                traj["episode"].append(env.episode[:R].copy())
                traj["live"].append(~done[:R])
            _, _, a, _, _ = policy_step(agent, carry, gen)
            _, info, (slots, lengths, success, returns) = env_step(env, carry, a)
            if R:
                traj["final"].append(info["final_pos"][:R].copy())
            new = ~done[slots]
            s = slots[new]
            out["lengths"][c0 + s], out["success"][c0 + s], out["returns"][c0 + s] = (
                lengths[new], success[new], returns[new])
            done[s] = True
    if record:
        out["traj"] = {k: np.stack(v) for k, v in traj.items()}
    return out


def scripted_episodes(configs, horizon, policy, seed=0):
    """One episode per configuration (all at once) with a scripted policy: "oracle" (the
    shortest-path oracle_actions, which knows the map: the ceiling for a memory-based agent's later
    episodes) or "random" (uniform actions: the floor). Returns lengths (M,), success (M,)."""
    M = len(configs["walls"])
    env = MazeEnv(configs, M, n=1, horizon=horizon, obs_mode="local", fixed_configs=True)
    env.reset()
    dmaps = goal_distance_maps(env.grid)
    rng = np.random.default_rng(seed)
    lengths, success, done = np.zeros(M, np.int64), np.zeros(M, bool), np.zeros(M, bool)
    while not done.all():
        a = oracle_actions(env, dmaps) if policy == "oracle" else rng.integers(NUM_ACTIONS, size=M)
        _, _, _, td, info = env.step(a)
        new = td & ~done
        lengths[new], success[new] = info["length"][new], info["success"][new]
        done |= td
    return lengths, success


def _mean_se(x):
    x = np.asarray(x, np.float64)
    if len(x) == 0:
        return None, None
    return float(x.mean()), (float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else None)


def table3(lengths, success):
    """Table 3 metrics from per-trial episode lengths and successes (M, n).
    Per episode: success rate (± binomial SE) and mean ± SE length of the successful episodes.
    % improved (paper 3c: "episode 2 length does not exceed episode 1 length"; the paper does not
    state its denominator): "improved" over the trials where episodes 1 and 2 both succeeded,
    "improved_all" over all trials, counting a trial improved when episode 2 succeeded and episode
    1 failed or was at least as long."""
    M, n = success.shape
    episodes = []
    for e in range(n):
        s = success[:, e]
        p = float(s.mean())
        mean, se = _mean_se(lengths[s, e])
        episodes.append({"episode": e + 1, "success": p, "success_se": math.sqrt(p * (1 - p) / M),
                         "length": mean, "length_se": se, "successes": int(s.sum())})
    table = {"trials": M, "episodes": episodes}
    if n >= 2:
        both = success[:, 0] & success[:, 1]
        better = lengths[:, 1] <= lengths[:, 0]
        table["improved"] = {"fraction": float(better[both].mean()) if both.any() else None,
                             "count": int((better & both).sum()), "denominator": int(both.sum()),
                             "over": "trials where episodes 1 and 2 both succeeded"}
        ok = success[:, 1] & (~success[:, 0] | better)
        table["improved_all"] = {"fraction": float(ok.mean()), "count": int(ok.sum()), "denominator": M,
                                 "over": "all trials: episode 2 succeeded and episode 1 failed or was not shorter"}
    return table


def _fmt_length(row):
    """'mean ± SE (count)' of the successful episodes' lengths; no SE from a single one."""
    if row["length"] is None:
        return "-"
    se = "" if row["length_se"] is None else f" ± {row['length_se']:4.1f}"
    return f"{row['length']:7.1f}{se} ({row['successes']})"


def print_table3(table, size, eval_size, n, horizon, obs_mode):
    """The Table 3 block: ours per episode, the paper's values in their own columns, the oracle
    (ceiling) and random (floor) rows."""
    paper = PAPER_TABLE3.get(eval_size)
    pname = {3: "5x5", 5: "9x9"}.get(eval_size, "")
    print(f"\nTable 3, RL² ({obs_mode}, trained on size {size}) on {table['trials']} test mazes of size {eval_size} "
          f"({maze_blocks(eval_size)}x{maze_blocks(eval_size)} blocks; paper's {pname or 'n/a'}), n = {n} episodes "
          f"of at most {horizon} steps, actions sampled from the policy")
    print(f"  {'episode':8s} {'success':>16s} {'paper':>7s}   {'avg length of successful':>28s} {'paper':>12s}")

    def pct(x, se=None):
        return f"{100 * x:6.1f}%" + (f" ± {100 * se:4.1f}" if se is not None else "")

    for row in table["episodes"]:
        e = row["episode"]
        ps = f"{paper['success_percent'][e - 1]:6.1f}%" if paper and e <= 5 else "      -"
        pl = f"{paper['length'][e - 1][0]:6.1f} ± {paper['length'][e - 1][1]:3.1f}" if paper and e <= 5 else "-"
        ln = _fmt_length(row)
        print(f"  {e:<8d} {pct(row['success'], row['success_se']):>16s} {ps:>7s}   {ln:>28s} {pl:>12s}")
    for name, note in (("oracle", "shortest path, knows the map: the ceiling"), ("random", "uniform actions")):
        r = table.get(name)
        if r:
            ln = _fmt_length(r)
            print(f"  {name:8s} {pct(r['success']):>16s} {'-':>7s}   {ln:>28s} {'-':>12s}   ({note})")
    if "improved" in table:
        i, a = table["improved"], table["improved_all"]
        pv = f"   paper {paper['improved_percent']:.1f}%" if paper else ""
        fr = "-" if i["fraction"] is None else f"{100 * i['fraction']:.1f}%"
        print(f"  % improved (episode 2 length <= episode 1 length): {fr} of the {i['denominator']} trials where "
              f"both succeeded{pv}; {100 * a['fraction']:.1f}% of all {a['denominator']} trials (episode 2 "
              f"succeeded, episode 1 failed or not shorter)")


def episode_path(traj, i, e):
    """(L + 1, 2) positions of recorded trial i's episode e (its start, then after each step),
    and the (L,) poses it saw; None if that episode was not played."""
    m = traj["live"][:, i] & (traj["episode"][:, i] == e)
    if not m.any():
        return None, None
    poses = traj["poses"][m, i]
    return np.concatenate([poses[:1, :2], traj["final"][m, i]]), poses


def write_figures(result, configs, outdir, max_panels=4):
    """Figure 6 style pictures from the recorded trials of evaluate(): topdown_good.png (episode 2
    no longer than episode 1, largest gains first), topdown_bad.png (episode 2 failed or longer),
    trial.gif (the first-person frames of the best good trial, both episodes; a PNG if no GIF
    writer) and frames_episode2.png (its first 60 episode-2 frames). Returns the files written."""
    traj = result["traj"]
    R = traj["poses"].shape[1]
    L, S = result["lengths"][:R], result["success"][:R]
    n = L.shape[1]
    if n >= 2:
        both = S[:, 0] & S[:, 1]
        good = np.flatnonzero(both & (L[:, 1] <= L[:, 0]))
        good = good[np.argsort(L[good, 1] - L[good, 0], kind="stable")]
        bad = np.flatnonzero(~S[:, 1] | (both & (L[:, 1] > L[:, 0])))
        bad = bad[np.argsort(-np.where(S[bad, 1], L[bad, 1] - L[bad, 0], 10**9), kind="stable")]
    else:
        good, bad = np.flatnonzero(S[:, 0]), np.flatnonzero(~S[:, 0])
    written = []
    for name, sel in (("good", good[:max_panels]), ("bad", bad[:max_panels])):
        if len(sel) == 0:
            continue
        paths = [[episode_path(traj, i, e)[0] for i in sel] for e in range(min(n, 2))]
        titles = [" / ".join(f"ep{e + 1} {L[i, e]}{'' if S[i, e] else ' (fail)'}" for e in range(min(n, 2)))
                  + " steps" for i in sel]
        fname = os.path.join(outdir, f"topdown_{name}.png")
        plot_topdown(configs["walls"][sel], configs["start"][sel], configs["goal"][sel], paths[0],
                     paths[1] if n >= 2 else None, fname, titles=titles)
        written.append(fname)
    i = good[0] if len(good) else 0
    grid = config_grids({k: v[i:i + 1] for k, v in configs.items()})
    frames = []
    for e in range(min(n, 2)):
        _, poses = episode_path(traj, i, e)
        if poses is not None:
            frames.append(render(np.repeat(grid, len(poses), 0), poses[:, :2], poses[:, 2].astype(np.int64)))
    written.append(save_frames_gif(np.concatenate(frames), os.path.join(outdir, "trial.gif")))
    if len(frames) == 2:
        fname = os.path.join(outdir, "frames_episode2.png")
        save_frames_strip(frames[1][:60], fname)
        written.append(fname)
    return written


def run_evaluation(agent, args, device, outdir, extra):
    """Evaluate on the test mazes of --eval-size (seed 1, disjoint from the seed-0 training
    mazes), print Table 3, write results.json and the Figure 6 pictures into outdir."""
    _, test_cfg = make_train_test_configs(args.eval_size)
    test_cfg = {k: v[:args.eval_mazes] for k, v in test_cfg.items()}
    horizon = default_horizon(args.eval_size)
    t0 = time.perf_counter()
    res = evaluate(agent, test_cfg, args.eval_n, horizon, args.obs, device, seed=args.seed + 1_000_003,
                   chunk=args.eval_chunk, record=32)
    eval_seconds = time.perf_counter() - t0
    table = table3(res["lengths"], res["success"])
    for name in ("oracle", "random"):
        lengths, success = scripted_episodes(test_cfg, horizon, name, seed=args.seed)
        mean, se = _mean_se(lengths[success])
        table[name] = {"success": float(success.mean()), "length": mean, "length_se": se,
                       "successes": int(success.sum())}
    table["mean_trial_return"] = float(res["returns"].mean())
    print_table3(table, args.size, args.eval_size, args.eval_n, horizon, args.obs)
    os.makedirs(outdir, exist_ok=True)
    files = write_figures(res, test_cfg, outdir)
    results = {"experiment": EXPERIMENT, "size": args.size, "n": args.n, "obs": args.obs, "seed": args.seed,
               **extra, "eval_size": args.eval_size, "eval_n": args.eval_n, "eval_mazes": args.eval_mazes,
               "eval_horizon": horizon, "eval_seconds": round(eval_seconds, 1), "table": table,
               "paper": PAPER_TABLE3.get(args.eval_size)}
    tmp = os.path.join(outdir, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, os.path.join(outdir, "results.json"))
    print(f"wrote {os.path.join(outdir, 'results.json')}, " + ", ".join(files))
    return results


# ---- Checking the world by eye and by the clock ----


def _rate(fn, B, seconds):
    """Items per second of fn() producing B items: best of 5 timed chunks (the machine is shared,
    so the best chunk is the least disturbed one)."""
    fn()
    best = 0.0
    for _ in range(5):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 10:
            fn()
            n += 1
        best = max(best, n * B / (time.perf_counter() - t0))
    return best


def bench(size=3, seconds=1.5):
    """Rendered frames per second on one core: the renderer alone ("observe") and the full
    env.step with random actions and auto resets. Numpy's elementwise ops are single-threaded."""
    torch.set_num_threads(1)
    configs = make_maze_configs(1000, size, seed=0)
    rng = np.random.default_rng(0)
    for B in (64, 1024):
        for mode in ("pixels", "local"):
            env = MazeEnv(configs, B, obs_mode=mode, horizon=default_horizon(size), rng=0)
            env.reset()
            acts = rng.choice(3, size=(64, B), p=[0.25, 0.25, 0.5])
            for a in acts[:8]:  # walk away from the start poses so views vary
                env.step(a)
            r_fps = _rate(env.observe, B, seconds)
            it = iter(range(10**9))
            s_fps = _rate(lambda: env.step(acts[next(it) % len(acts)]), B, seconds)
            print(f"size {size} ({maze_blocks(size)}x{maze_blocks(size)} blocks)  B={B:5d}  {mode:6s}  "
                  f"observe: {r_fps:9.0f} frames/s   env.step: {s_fps:9.0f} steps/s")


def demo(outdir, size=3, num=4, seed=0):
    """Run num test mazes for one trial (n=2): episode 1 a random walk biased forward, episode 2
    the shortest-path oracle; write topdown.png, frames.png (the oracle's first-person view) and
    frames.gif, so a human can check the maze, the motion and the renderer."""
    torch.set_num_threads(1)
    _, test = make_train_test_configs(size, num=max(num, 8))
    env = MazeEnv(test, num, n=2, horizon=default_horizon(size), fixed_configs=True)
    obs = env.reset()
    rng = np.random.default_rng(seed)
    dmaps = goal_distance_maps(env.grid)
    paths = [[[p] for p in env.pos.copy()], [[] for _ in range(num)]]
    frames, finished, lengths = [], np.zeros(num, bool), [[None] * num, [None] * num]
    while not finished.all():
        random_act = rng.choice(3, size=num, p=[0.2, 0.2, 0.6])
        act = np.where(env.episode == 0, random_act, oracle_actions(env, dmaps))
        ep_before = env.episode.copy()
        if ep_before[0] == 1 and not finished[0]:
            frames.append(obs[0])
        obs, _, ed, td, info = env.step(act)
        for i in range(num):  # plotting bookkeeping only (a handful of trials)
            if finished[i]:
                continue
            paths[ep_before[i]][i].append(info["final_pos"][i])
            if ed[i]:
                lengths[ep_before[i]][i] = (int(info["length"][i]), bool(info["success"][i]))
                if not td[i]:
                    paths[1][i].append(env.pos[i].copy())
        finished |= td
    titles = [f"ep1 {lengths[0][i][0]}{'' if lengths[0][i][1] else ' (fail)'} / "
              f"ep2 {lengths[1][i][0]}{'' if lengths[1][i][1] else ' (fail)'} steps" for i in range(num)]
    plot_topdown(test["walls"][:num], test["start"][:num], test["goal"][:num],
                 [np.array(p) for p in paths[0]], [np.array(p) for p in paths[1]],
                 os.path.join(outdir, "topdown.png"), titles=titles)
    frames = np.stack(frames)
    save_frames_strip(frames, os.path.join(outdir, "frames.png"))
    gif = save_frames_gif(frames, os.path.join(outdir, "frames.gif"))
    print(f"wrote {os.path.join(outdir, 'topdown.png')}, {os.path.join(outdir, 'frames.png')}, {gif}")
    for i, t in enumerate(titles):
        print(f"maze {i}: {t}")




# ---- Training: first-order TRPO over fixed-length rollouts (paper §2.4, appendix A.3) ----
EXPERIMENT = "maze"


def one_line_error(parser, msg):
    """Bad input: one line on stderr and exit code 2 (argparse would add a usage block)."""
    print(f"{parser.prog}: error: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.error = lambda msg: one_line_error(p, msg)
    p.add_argument("--bench", action="store_true", help="print rendered frames/s for B=64 and 1024, then exit")
    p.add_argument("--demo", metavar="OUTDIR", help="write top-down and first-person pictures to OUTDIR, then exit")
    p.add_argument("--size", type=int, default=3, help="cells per maze side (3 = paper's 5x5, 5 = 9x9)")
    p.add_argument("--n", type=int, default=2, help="episodes per trial (paper: 2)")
    p.add_argument("--obs", default="pixels", choices=["pixels", "local"],
                   help="pixels: 40x30 RGB through the conv net (paper); local: the 18-number local_obs (cheap)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--total-timesteps", type=int, default=5_000_000, help="env steps to train")
    p.add_argument("--num-trials", type=int, default=32, help="B, parallel trial slots (all processes together)")
    p.add_argument("--rollout-steps", type=int, default=500,
                   help="steps per slot per iteration = truncated BPTT length (500 = one whole 5x5 trial)")
    p.add_argument("--hidden", type=int, default=256, help="GRU units (paper: 256)")
    p.add_argument("--embed", type=int, default=256, help="action embedding and FC width (paper: 256)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam step size")
    p.add_argument("--epochs", type=int, default=5, help="surrogate epochs per iteration (authors: >= 5)")
    p.add_argument("--minibatch", type=int, default=16, help="slot sequences (columns of the buffer) per minibatch and process")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--lam", type=float, default=0.99, help="GAE lambda (paper, appendix A.3)")
    p.add_argument("--max-kl", type=float, default=0.01, help="trust region: mean KL per iteration")
    p.add_argument("--kl-check", choices=("each", "last"), default="each",
                   help="each: measure every epoch's iterate on the whole batch, keep the best inside the trust region "
                        "(the authors' rule); last (beyond the paper): the last epoch's iterate first, earlier ones "
                        "only while outside or not improving: one whole-batch pass per iteration instead of one per "
                        "epoch, the same iterate when surrogate and KL grow with the epochs (trpo.update)")
    p.add_argument("--clip", type=float, default=0.1)
    p.add_argument("--ent-coef", type=float, default=0.0)
    p.add_argument("--vf-coef", type=float, default=0.5, help="value loss weight (shared network)")
    p.add_argument("--max-grad-norm", type=float, default=0.5, help="gradient norm clipping (0: off)")
    p.add_argument("--eval-mazes", type=int, default=1000, help="test mazes (at most 1000)")
    p.add_argument("--eval-size", type=int, default=None, help="maze size to evaluate on (default --size)")
    p.add_argument("--eval-n", type=int, default=None,
                   help="episodes per evaluation trial (default --n; the paper tests up to 5)")
    p.add_argument("--eval-chunk", type=int, default=250, help="test mazes run at once")
    p.add_argument("--out", default=None, help="output folder (default runs/maze_s{size}_n{n}_{obs}_s{seed})")
    p.add_argument("--eval-only", action="store_true", help="evaluate --checkpoint, no training")
    p.add_argument("--checkpoint", default=None, help="checkpoint to evaluate (with --eval-only)")
    p.add_argument("--resume", default=None, help="output folder of an interrupted run to continue")
    p.add_argument("--checkpoint-every", type=int, default=5, help="iterations between checkpoints")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on small CPUs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--bench-scaling", type=int, nargs="?", const=2, default=None, metavar="N",
                   help="train the given budget with 1 process, then with N (default 2) under torchrun; print "
                        "steps/s of each and the ratio, then exit")
    a = p.parse_args(argv)
    if not 3 <= a.size <= 15:
        p.error("--size must be between 3 and 15 (size 2 has only 16 distinct mazes, too few for 1000)")
    a.eval_size = a.size if a.eval_size is None else a.eval_size
    if not 3 <= a.eval_size <= 15:
        p.error("--eval-size must be between 3 and 15")
    a.eval_n = a.n if a.eval_n is None else a.eval_n
    for name in ("n", "eval_n", "total_timesteps", "num_trials", "rollout_steps", "hidden", "embed", "epochs",
                 "minibatch", "eval_mazes", "eval_chunk", "checkpoint_every", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer")
    if not 2 <= a.eval_mazes <= 1000:
        p.error("--eval-mazes must be between 2 and 1000 (the test set has 1000 mazes)")
    for name in ("lr", "max_kl", "clip"):
        if not getattr(a, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if not (0 <= a.gamma <= 1 and 0 <= a.lam <= 1):
        p.error("--gamma and --lam must lie in [0, 1]")
    if a.ent_coef < 0 or a.vf_coef < 0 or a.max_grad_norm < 0:
        p.error("--ent-coef, --vf-coef and --max-grad-norm must be non-negative")
    trpo.check_run_args(p, a, EXPERIMENT, {"size": a.size, "n": a.n, "obs": a.obs})  # shared flags, checkpoints
    for flag, path in (("--demo", a.demo), ("--out", a.out)):
        if path is not None:
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as e:
                p.error(f"{flag}: cannot create {path}: {e.strerror}")
    a.out_given = a.out is not None
    a.out = a.resume or a.out or f"runs/maze_s{a.size}_n{a.n}_{a.obs}_s{a.seed}"
    return a


CARRY_TENSORS = ("obs", "h", "prev_action", "prev_reward", "prev_done", "first")
CARRY_ARRAYS = ("lengths", "success", "ret")
ENV_ARRAYS = ("config", "pos", "heading", "t", "episode", "ep_return")


def carry_state(env, carry):
    """The running trials (env arrays) and the carry, as CPU tensors for the checkpoint, so that
    a resumed run continues the same trials with the same GRU states."""
    state = {k: carry[k].cpu() for k in CARRY_TENSORS}
    state.update({k: torch.from_numpy(np.ascontiguousarray(carry[k])) for k in CARRY_ARRAYS})
    state.update({"env_" + k: torch.from_numpy(np.ascontiguousarray(getattr(env, k))) for k in ENV_ARRAYS})
    return state


def load_carry_state(env, state, device):
    """Inverse of carry_state: restore the env's running trials and return the carry."""
    for k in ENV_ARRAYS:
        setattr(env, k, state["env_" + k].numpy().copy())
    env.grid = env.all_grids[env.config]
    carry = {k: state[k].to(device) for k in CARRY_TENSORS}
    carry.update({k: state[k].numpy().copy() for k in CARRY_ARRAYS})
    return carry


def csv_fields(n):
    return (["iteration", "steps", "seconds", "steps_per_s", "trials", "trial_return"]
            + [f"success_{e + 1}" for e in range(n)] + [f"length_{e + 1}" for e in range(n)]
            + ["kl", "entropy", "clipfrac", "explained_variance", "backtracks", "epoch_kept", "v_loss"])


def plot_curve(csv_path, png_path, args):
    """Learning curve: success rate per episode and mean episode lengths (all episodes, failures
    counted at the horizon) of the trials finished in each iteration, against env steps."""
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    steps = np.array([int(r["steps"]) for r in rows])

    def col(key):
        return np.array([float(r[key]) if r[key] not in ("", "nan") else np.nan for r in rows])

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    colours = ["tab:orange", "tab:blue", "tab:green", "tab:red", "tab:purple"]  # as plot_topdown's paths
    for e in range(min(args.n, 5)):
        axes[0].plot(steps, 100 * col(f"success_{e + 1}"), color=colours[e], label=f"episode {e + 1}")
        axes[1].plot(steps, col(f"length_{e + 1}"), color=colours[e], label=f"episode {e + 1}")
    axes[0].set_ylabel("success rate (%)")
    axes[1].set_ylabel("mean episode length (steps)")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.legend()
    fig.suptitle(f"RL² maze size {args.size}, n = {args.n}, {args.obs} (trials finished per iteration)")
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    plt.close(fig)


def iteration_stats(finished, n, device):
    """Sums over the trials finished in this iteration, added up over processes: [count, return,
    successes per episode, lengths per episode]; the means follow by dividing by the count.
    The sums travel on the device (nccl reduces CUDA tensors only)."""
    L, S, R = finished["lengths"], finished["success"], finished["returns"]
    local = torch.tensor([len(R), R.sum(), *S.sum(0), *L.sum(0)], dtype=torch.float64, device=device)
    total = trpo.all_mean(local) * (torch.distributed.get_world_size() if trpo.distributed() else 1)
    k = total[0].item()
    means = (total[1:] / k).tolist() if k else [math.nan] * (1 + 2 * n)
    return int(k), means[0], means[1:1 + n], means[1 + n:]


def train(args):
    torch.set_num_threads(args.threads)
    # Data parallel under torchrun (gloo on CPU, nccl on GPU), exactly as rl2_bandit.py: every
    # process runs its share of the slots, trpo.update averages gradients and statistics.
    world, rank, device = trpo.init_distributed(args.device)
    if args.num_trials % world:
        trpo.input_error(f"--num-trials {args.num_trials} is not divisible by {world} processes")
    torch.manual_seed(args.seed)  # same initial parameters in every process
    agent = MazeAgent(args.obs, args.hidden, args.embed).to(device)
    shape = {"size": args.size, "n": args.n, "obs": args.obs}

    if args.eval_only:
        ckpt = trpo.load_checkpoint(args.checkpoint, EXPERIMENT, shape)
        agent = MazeAgent(args.obs, ckpt["hidden"], ckpt["embed"]).to(device)
        agent.load_state_dict(ckpt["agent"])
        # By default next to the checkpoint, in a folder named after the evaluation setting, so that
        # e.g. testing a size-3 policy on size 5 never overwrites the training run's results.json.
        outdir = args.out if args.out_given else os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)),
                                                             f"eval_size{args.eval_size}_n{args.eval_n}")
        if rank == 0:  # under torchrun one process evaluates
            run_evaluation(agent, args, device, outdir, {"steps": ckpt["steps"], "seconds": round(ckpt["seconds"], 1),
                                                         "checkpoint": args.checkpoint})
        if world > 1:
            torch.distributed.destroy_process_group()
        return

    # (created after the eval-only branch: the first Adam() imports torch's compiler, about 3 s)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
    log = rank == 0  # only rank 0 prints and writes files
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    csv_path = os.path.join(args.out, "progress.csv")
    fields = csv_fields(args.n)
    B, T = args.num_trials // world, args.rollout_steps
    train_cfg = make_maze_configs(1000, args.size, seed=0)  # the paper's 1000 training mazes
    env = MazeEnv(train_cfg, B, n=args.n, horizon=default_horizon(args.size), obs_mode=args.obs,
                  rng=trpo.seed_for(args.seed, rank, 0, 1))
    iteration, steps, seconds, kept, carry = 0, 0, 0.0, [], None
    if args.resume:
        ckpt = trpo.load_checkpoint(ckpt_path, EXPERIMENT, shape)
        args.hidden, args.embed = ckpt["hidden"], ckpt["embed"]
        agent = MazeAgent(args.obs, args.hidden, args.embed).to(device)
        optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
        agent.load_state_dict(ckpt["agent"])
        optimizer.load_state_dict(ckpt["optimizer"])
        iteration, steps, seconds = ckpt["iteration"], ckpt["steps"], ckpt["seconds"]
        # The running trials continue only where they can be restored exactly: one process, same B.
        if ckpt.get("carry") is not None and world == 1 and ckpt["carry"]["obs"].shape[0] == B:
            carry = load_carry_state(env, ckpt["carry"], device)
        if log and os.path.isfile(csv_path):  # drop rows logged after the checkpoint: none is duplicated
            with open(csv_path) as f:
                kept = [r for r in csv.DictReader(f) if int(r["iteration"]) <= iteration]
        if log:
            print(f"resuming {args.out} at iteration {iteration}, {steps} steps"
                  + ("" if carry is not None else " (with new trials in every slot)"))
    if carry is None:
        carry = new_carry(env, agent, device)
    if log:
        os.makedirs(args.out, exist_ok=True)
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fields)
            w.writeheader()
            w.writerows(kept)

    def state():
        return {"experiment": EXPERIMENT, **shape, "hidden": args.hidden, "embed": args.embed,
                "agent": agent.state_dict(), "optimizer": optimizer.state_dict(),
                "iteration": iteration, "steps": steps, "seconds": seconds,
                "carry": carry_state(env, carry) if world == 1 else None,
                "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}}

    interrupted = []
    signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))  # finish the iteration, then save
    signal.signal(signal.SIGTERM, lambda *_: interrupted.append(True))
    if log:
        print(f"RL² maze size {args.size} ({maze_blocks(args.size)}x{maze_blocks(args.size)} blocks) n={args.n} "
              f"obs={args.obs}: {args.total_timesteps} steps, {args.num_trials} slots x {T} steps = "
              f"{args.num_trials * T} steps per iteration, GRU {args.hidden}, device {device}, "
              f"{world} process(es) x {args.threads} thread(s)", flush=True)
    while steps < args.total_timesteps:
        if trpo.all_mean(torch.tensor(float(bool(interrupted)), device=device)).item() > 0:  # all stop together
            break
        t0 = time.perf_counter()
        # Each iteration's randomness (actions, new trials' mazes, minibatch order) is a function of
        # (seed, rank, iteration): a resumed run continues exactly as an uninterrupted one.
        gen = torch.Generator().manual_seed(trpo.seed_for(args.seed, rank, iteration))
        env.rng = np.random.default_rng(trpo.seed_for(args.seed, rank, iteration, 1))
        batch, finished = collect(agent, env, carry, T, gen)
        # GAE over the whole trial (lambda = 0.99, appendix A.3): cut only at trial ends, and
        # bootstrapped with V(state after the rollout) for the trials still running.
        adv, ret = trpo.gae(batch["rewards"], batch["values"], batch["trial_end"], args.gamma, args.lam,
                            batch["last_value"])
        batch.update(advantages=adv, returns=ret)
        # Minibatches are whole columns of the (T, B) buffer replayed from their stored h0: the
        # state at the rollout's start is a constant, so gradients stop there (truncated BPTT of
        # length --rollout-steps); reset zeroes the state at each trial start inside a column.
        info = trpo.update(agent, optimizer, batch, policy_params=agent.policy_parameters(), clip=args.clip,
                           epochs=args.epochs, trials_per_minibatch=args.minibatch, max_kl=args.max_kl,
                           vf_coef=args.vf_coef, ent_coef=args.ent_coef, max_grad_norm=args.max_grad_norm or None,
                           generator=gen, kl_check=args.kl_check)
        trpo.stop_if_not_finite(info, agent, iteration + 1, ckpt_path)  # before anything is saved
        # The carried GRU state was computed by the old parameters; the next rollout goes on from it
        # (as CleanRL's ppo_atari_lstm does), and replays from it as its h0.
        iteration += 1
        steps += T * B * world
        dt = time.perf_counter() - t0
        seconds += dt
        k, trial_return, success, length = iteration_stats(finished, args.n, device)
        if not log:
            continue

        def r4(x):
            return "" if math.isnan(x) else round(x, 4)

        row = {"iteration": iteration, "steps": steps, "seconds": round(seconds, 2),
               "steps_per_s": round(T * B * world / dt), "trials": k, "trial_return": r4(trial_return),
               **{f"success_{e + 1}": r4(success[e]) for e in range(args.n)},
               **{f"length_{e + 1}": r4(length[e]) for e in range(args.n)},
               "kl": round(info["kl"], 5), "entropy": round(info["entropy"], 4),
               "clipfrac": round(info["clipfrac"], 4), "explained_variance": round(info["explained_variance"], 4),
               "backtracks": info["backtracks"], "epoch_kept": info["epoch_kept"], "v_loss": round(info["v_loss"], 5)}
        with open(csv_path, "a", newline="") as f:
            csv.DictWriter(f, fields).writerow(row)
        e2 = min(args.n, 2)
        print(f"iter {iteration:4d}  steps {steps:9d}  {row['steps_per_s']:5d} steps/s  trials {k:4d}  return "
              f"{trial_return:7.3f}  success {'/'.join(f'{s:.2f}' for s in success[:e2])}  length "
              f"{'/'.join(f'{x:.1f}' for x in length[:e2])}  KL {info['kl']:.4f}  entropy {info['entropy']:.3f}  "
              f"EV {info['explained_variance']:.2f}  bt {info['backtracks']}", flush=True)
        if iteration % args.checkpoint_every == 0:
            trpo.save_checkpoint(ckpt_path, state())
    trpo.check_identical(agent, log)  # under torchrun: every process ends with the same parameters
    if log:
        trpo.save_checkpoint(ckpt_path, state())
    trpo.close_distributed()  # all processes leave together, once rank 0 has saved
    if not log:
        trpo.worker_exit()
    if interrupted:
        sys.exit(f"interrupted at iteration {iteration}; resume with: python rl2_maze.py --size {args.size} "
                 f"--n {args.n} --obs {args.obs} --resume {args.out} (plus the other flags you gave)")
    plot_curve(csv_path, os.path.join(args.out, "learning_curve.png"), args)
    run_evaluation(agent, args, device, args.out,
                   {"steps": steps, "iterations": iteration, "seconds": round(seconds, 1), "device": str(device),
                    "processes": world, "threads": args.threads, "num_trials": args.num_trials,
                    "rollout_steps": T, "hidden": args.hidden})
    print(f"wrote {args.out}/progress.csv, learning_curve.png, checkpoint.pt")


if __name__ == "__main__":
    args = parse_args()
    if args.bench_scaling:  # 1 vs N processes, side by side (trpo.bench_scaling)
        trpo.bench_scaling(os.path.abspath(__file__), sys.argv[1:], args.bench_scaling, ["--eval-mazes", "2"])
        sys.exit(0)
    if args.bench or args.demo is not None:
        if args.bench:
            bench(args.size)
        if args.demo is not None:
            demo(args.demo, args.size)
        sys.exit(0)
    train(args)
