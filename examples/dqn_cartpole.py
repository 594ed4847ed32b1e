"""Deep Q-learning on Gymnasium's CartPole-v1 with lamina.rl: Double DQN, Polyak-averaged target
network, Huber loss, gradient clipping, a learning rate annealed to near zero (which keeps the
policy from collapsing once it balances the pole). Trains until the mean return over 100
consecutive episodes reaches 475 (the "solved" threshold) or --max-episodes; every --eval-every
episodes the greedy policy plays --eval-episodes episodes on a separate environment and the best
weights are kept (rl.train(..., keep_best=True)), so the agent evaluated at the end is the best
policy seen, not the last. Then 100 fresh greedy episodes are scored; the checkpoint and a plot
of the returns go into --out. One compute thread (results depend on the thread count: see README).

    pip install gymnasium matplotlib      # or: pip install lamina[rl]
    python examples/dqn_cartpole.py [--seed 0] [--max-episodes 1500] [--out dqn_out]
    python examples/dqn_cartpole.py --quick   # 30 episodes: a smoke test, far from solved
"""
import os
import sys
import time

import lamina
from lamina import rl
from lamina.utils.scripts import out_dir, positive_int, run, tool_parser


def main(argv=None):
    ap = tool_parser(__doc__, out="dqn_out", quick="30 episodes, evaluations of 5 episodes every 10")
    ap.add_argument("--seed", type=int, default=0, help="seeds the agent and the environments")
    ap.add_argument("--max-episodes", type=positive_int, default=1500, help="training episodes at most")
    ap.add_argument("--eval-every", type=positive_int, default=25, help="training episodes between greedy evaluations")
    ap.add_argument("--eval-episodes", type=positive_int, default=20, help="greedy episodes per evaluation")
    ap.add_argument("--no-progress", action="store_true", help="a line every 50 episodes instead of a progress bar")
    args = ap.parse_args(argv)
    if args.quick:
        args.max_episodes, args.eval_every, args.eval_episodes = 30, 10, 5
    try:
        import gymnasium as gym
    except ImportError:
        raise ImportError("dqn_cartpole needs gymnasium: pip install gymnasium") from None
    out = out_dir(args.out, "dqn_cartpole")
    checkpoint, plot = os.path.join(out, "dqn_cartpole.lam"), os.path.join(out, "dqn_cartpole.png")

    lamina.set_num_threads(1)   # tiny matrices: threads cost more than they give
    env = gym.make("CartPole-v1")
    agent = rl.DQNAgent.for_env(
        env, hidden=(256, 256), seed=args.seed,
        lr=rl.LinearSchedule(1e-3, 2e-5, 80_000), gamma=0.98, buffer_size=100_000, batch_size=128,
        learning_starts=1000, train_freq=4, double_dqn=True, tau=0.02, target_update_interval=1,
        exploration=rl.LinearSchedule(1.0, 0.01, 15_000), loss="huber", max_grad_norm=10.0)

    def report(agent, history):
        if args.no_progress and len(history.epoch) % 50 == 0:
            print(f"episode {len(history.epoch)}: return {history['return'][-1]:.0f}, mean of last "
                  f"{min(len(history.epoch), 100)} {history['mean_return'][-1]:.1f}, steps {agent.steps}, "
                  f"{history['time'][-1]:.0f} s", flush=True)
        return False

    t0 = time.perf_counter()
    hist = rl.train(agent, env, episodes=args.max_episodes, seed=args.seed, target_return=475.0, window=100,
                    callback=report, progress=not args.no_progress, eval_env=gym.make("CartPole-v1"),
                    eval_every=args.eval_every, eval_episodes=args.eval_episodes, eval_seed=args.seed + 1000,
                    keep_best=True)
    wall = time.perf_counter() - t0
    n = len(hist.epoch)
    window = f"mean return over the last {min(n, 100)} episodes {hist['mean_return'][-1]:.1f}"
    if hist.solved_episode is not None:
        print(f"solved after {hist.solved_episode} episodes ({agent.steps} steps, {agent.updates} updates) "
              f"in {wall:.1f} s: {window}")
    else:
        print(f"not solved in {n} episodes ({agent.steps} steps, {wall:.1f} s); {window}")
    if hist.best_eval is not None:
        print(f"kept the best greedy policy: episode {hist.best_eval[0]}, mean {hist.best_eval[1]:.1f} over "
              f"{args.eval_episodes} evaluation episodes")
    agent.save(checkpoint)
    print(f"saved the agent to {checkpoint}")

    t1 = time.perf_counter()
    greedy = rl.evaluate(agent, env, episodes=100, seed=args.seed + 1)
    print(f"greedy policy over 100 episodes: mean return {greedy.mean():.1f} (min {greedy.min():.0f}, "
          f"max {greedy.max():.0f}) in {time.perf_counter() - t1:.1f} s")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return float(greedy.mean())
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(hist.epoch, hist["return"], lw=0.6, alpha=0.5, label="episode return")
    ax.plot(hist.epoch, hist["mean_return"], lw=2, label="mean of last 100")
    ax.axhline(475, color="k", ls="--", lw=1, label="solved (475)")
    ax.set_xlabel("episode")
    ax.set_ylabel("return")
    ax.set_title(f"DQN on CartPole-v1 (lamina), greedy eval mean {greedy.mean():.1f}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(plot, dpi=120)
    plt.close(fig)
    print(f"plot saved to {plot}")
    return float(greedy.mean())


if __name__ == "__main__":
    sys.exit(run(main))
