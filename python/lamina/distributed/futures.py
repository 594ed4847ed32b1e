"""``Future``: PyTorch's ``torch.futures.Future`` as far as DDP communication hooks and
``Work.get_future()`` need it: ``wait()``, ``value()``, ``done()``, ``then()``,
``set_result()`` / ``set_exception()``. MPI has no progress thread here, so a future completes in
the thread that polls or waits on it, and ``then`` callbacks run there, in chain order.
"""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class Future(Generic[T]):
    """The result of an asynchronous operation (``Future[Tensor]`` in hook annotations works).

    A future is completed in one of three ways: by ``set_result`` / ``set_exception`` (a future a
    user makes), by the MPI operation behind it finishing (``Work.get_future()``, the stock DDP
    hooks), or by its parent completing (``then``). ``wait()`` blocks until completion, drives MPI
    progress while it waits, and returns the value (raising the error if the operation or a
    callback failed); ``done()`` polls without blocking. Unlike PyTorch, callbacks given to
    ``then`` run lazily, when the child is polled or waited on, in the caller's thread (lamina's
    MPI backend has no background thread that could run them earlier)."""

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._work = None          # a collectives.Work whose wait() produces the value
        self._work_value: Callable[[], Any] | None = None
        self._parent: Future | None = None
        self._callback: Callable[[Future], Any] | None = None

    @classmethod
    def _of_work(cls, work, value: Callable[[], Any]) -> Future:
        f = cls()
        f._work, f._work_value = work, value
        return f

    # ---- completion ----
    def _complete_from_work(self) -> None:
        try:
            self._work.wait()
            self._value = self._work_value()
        except Exception as e:  # noqa: BLE001 - a timeout or MPI error: the future fails, wait() raises it
            self._error = e
        self._done, self._work, self._work_value = True, None, None

    def _complete_from_parent(self) -> None:
        cb, parent = self._callback, self._parent
        self._callback = self._parent = None
        try:
            self._value = cb(parent)  # a failed parent raises from parent.value() inside the callback
        except Exception as e:  # noqa: BLE001 - any error of a user callback fails the future, as in PyTorch
            self._error = e
        self._done = True

    def done(self) -> bool:
        """True once the future has a value or an error (polls the operation behind it)."""
        if self._done:
            return True
        if self._parent is not None:
            if not self._parent.done():
                return False
            self._complete_from_parent()
        elif self._work is not None:
            if not self._work.is_completed():
                return False
            self._complete_from_work()
        return self._done

    def wait(self) -> T:
        """Blocks until the future completes and returns its value (raises its error)."""
        if not self._done:
            if self._parent is not None:
                try:
                    self._parent.wait()
                except Exception:  # noqa: BLE001, S110 - the callback sees the failure through parent.value()
                    pass
                self._complete_from_parent()
            elif self._work is not None:
                self._complete_from_work()
            else:
                raise RuntimeError("Future.wait(): nothing will complete this future (it has no operation behind "
                                   "it and set_result() was not called); lamina's futures complete in the "
                                   "calling thread, so waiting would block forever")
        if self._error is not None:
            raise self._error
        return self._value

    def value(self) -> T:
        """The value of a completed future (after ``wait()``, or inside a ``then`` callback);
        raises RuntimeError if it has not completed, or the operation's error."""
        if not self.done():
            raise RuntimeError("Future.value(): the future has not completed yet; call wait() first")
        if self._error is not None:
            raise self._error
        return self._value

    def then(self, callback: Callable[[Future], Any]) -> Future:
        """A new future whose value is ``callback(self)``, run once this one completes."""
        if not callable(callback):
            raise TypeError(f"Future.then(): callback must be callable, got {type(callback).__name__}")
        child = Future()
        child._parent, child._callback = self, callback
        return child

    def set_result(self, result: T) -> None:
        """Completes the future with ``result`` (once only)."""
        self._set(result, None)

    def set_exception(self, result: BaseException) -> None:
        """Completes the future with an error that ``wait()`` and ``value()`` raise."""
        if not isinstance(result, BaseException):
            raise TypeError(f"Future.set_exception(): expected an exception, got {type(result).__name__}")
        self._set(None, result)

    def _set(self, value, error) -> None:
        if self._done or self._work is not None or self._parent is not None:
            raise RuntimeError("Future can only be marked completed once (and not one that an operation or "
                               "a then() chain completes)")
        self._value, self._error, self._done = value, error, True

    def __repr__(self) -> str:
        return f"<Future done={self._done}>"
