"""Deep Q-learning on Gymnasium's CartPole-v1 with lamina.rl: Double DQN, Polyak-averaged target
network, Huber loss, gradient clipping, a learning rate annealed to near zero (which keeps the
policy from collapsing once it balances the pole). Trains until the mean return over 100 consecutive
episodes reaches 475 (the "solved" threshold), then evaluates the greedy policy for 100 episodes
and saves a plot of the returns.

    pip install gymnasium matplotlib      # or: pip install lamina[rl]
    python examples/dqn_cartpole.py [--seed 0] [--max-episodes 1500] [--plot dqn_cartpole.png]
"""
import argparse
import time

import numpy as np

import lamina
from lamina import rl


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-episodes", type=int, default=1500)
    ap.add_argument("--plot", default="dqn_cartpole.png")
    ap.add_argument("--checkpoint", default="dqn_cartpole.lam")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()

    import gymnasium as gym

    lamina.set_num_threads(1)   # tiny matrices: threads cost more than they give
    env = gym.make("CartPole-v1")
    agent = rl.DQNAgent.for_env(
        env, hidden=(256, 256), seed=args.seed,
        lr=rl.LinearSchedule(1e-3, 2e-5, 80_000), gamma=0.98, buffer_size=100_000, batch_size=128,
        learning_starts=1000, train_freq=4, double_dqn=True, tau=0.02, target_update_interval=1,
        exploration=rl.LinearSchedule(1.0, 0.01, 15_000), loss="huber", max_grad_norm=10.0)

    best = {"mean": -np.inf}

    def keep_best(agent, history):
        # Checkpoint the weights whenever the 100-episode mean reaches a new high (after 100 episodes).
        m = history["mean_return"][-1]
        if args.no_progress and len(history.epoch) % 50 == 0:
            print(f"episode {len(history.epoch)}: return {history['return'][-1]:.0f}, mean of last 100 {m:.1f}, "
                  f"steps {agent.steps}, {history['time'][-1]:.0f} s", flush=True)
        if len(history["return"]) >= 100 and m > best["mean"]:
            best["mean"] = m
            agent.save(args.checkpoint)
        return False

    t0 = time.perf_counter()
    hist = rl.train(agent, env, episodes=args.max_episodes, seed=args.seed, target_return=475.0, window=100,
                    callback=keep_best, progress=not args.no_progress)
    wall = time.perf_counter() - t0
    if hist.solved_episode is not None:
        print(f"solved after {hist.solved_episode} episodes ({agent.steps} steps, {agent.updates} updates) "
              f"in {wall:.1f} s: mean return over the last 100 episodes {hist['mean_return'][-1]:.1f}")
        agent.save(args.checkpoint)
    else:
        print(f"not solved in {len(hist.epoch)} episodes ({agent.steps} steps, {wall:.1f} s); best 100-episode "
              f"mean {max(hist['mean_return'][99:], default=float('nan')):.1f}")
        if best["mean"] > -np.inf:
            print("evaluating the best checkpoint")
            agent.load(args.checkpoint)

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
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(hist.epoch, hist["return"], lw=0.6, alpha=0.5, label="episode return")
    ax.plot(hist.epoch, hist["mean_return"], lw=2, label="mean of last 100")
    ax.axhline(475, color="k", ls="--", lw=1, label="solved (475)")
    ax.set_xlabel("episode")
    ax.set_ylabel("return")
    ax.set_title(f"DQN on CartPole-v1 (lamina), greedy eval mean {greedy.mean():.1f}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"plot saved to {args.plot}")


if __name__ == "__main__":
    main()
