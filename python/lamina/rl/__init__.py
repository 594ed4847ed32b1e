"""``lamina.rl``: deep Q-learning (DQN agent, replay buffers, training loop, built-in environments).

Gymnasium is optional (``pip install lamina[rl]``): any object with Gymnasium's ``reset``/``step``
API works, and ``lamina.rl.envs`` has tiny environments (Corridor, GridWorld) that need nothing."""
from .agent import DQNAgent, mlp
from .envs import Box, Corridor, Discrete, GridWorld
from .loop import evaluate, train
from .replay import Batch, PrioritizedReplayBuffer, ReplayBuffer, SumTree
from .schedules import ConstantSchedule, ExponentialSchedule, LinearSchedule

__all__ = ["DQNAgent", "mlp", "ReplayBuffer", "PrioritizedReplayBuffer", "SumTree", "Batch",
           "LinearSchedule", "ExponentialSchedule", "ConstantSchedule", "train", "evaluate",
           "Corridor", "GridWorld", "Discrete", "Box"]
