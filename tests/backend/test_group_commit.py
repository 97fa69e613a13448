"""Group commit (backend.catalog.group_commit) on a real SQLite file: jobs ready together share a
commit, a failing job rolls back alone, a failing commit fails them all, and no caller returns
before its job is durable (visible to another connection)."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, create_engine, event, text

from backend.catalog.group_commit import GroupCommit


class Database:
    def __init__(self, path) -> None:
        self.engine = create_engine(f"sqlite:///{path}")
        # SQLAlchemy's recipe for SAVEPOINT on pysqlite (as the catalog's engines do): the driver
        # must not manage transactions itself, or releasing a savepoint would commit.
        event.listen(
            self.engine, "connect", lambda dbapi, _rec: setattr(dbapi, "isolation_level", None)
        )
        event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        with self.engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v INTEGER UNIQUE)"))
        self.commits = 0
        self.fail_commit = False
        self.in_transaction = threading.Event()  # a leader is inside its transaction
        self.release = threading.Event()
        self.release.set()

    @contextlib.contextmanager
    def transaction(self):
        with self.engine.begin() as conn:
            self.in_transaction.set()
            assert self.release.wait(30)
            yield conn
            if self.fail_commit:
                raise OSError("disk I/O error")
        self.commits += 1

    def values(self) -> set[int]:
        with create_engine(self.engine.url).connect() as other:  # another connection
            return set(other.execute(text("SELECT v FROM t")).scalars())


def insert(value: int):
    def job(conn: Connection) -> int:
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})
        return value

    return job


@pytest.fixture
def db(tmp_path):
    d = Database(tmp_path / "g.db")
    yield d
    d.engine.dispose()


def test_jobs_ready_together_share_one_commit_and_are_durable_on_return(db):
    group = GroupCommit(db.transaction)
    db.release.clear()  # hold the first leader inside its transaction while the others queue
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(group.run, insert(0))
        assert db.in_transaction.wait(30)
        rest = [pool.submit(group.run, insert(v)) for v in range(1, 8)]
        db.release.set()
        results = [first.result(), *(f.result() for f in rest)]
        assert results == list(range(8))
    assert db.values() == set(range(8))
    assert db.commits == 2  # the first alone, then the seven that queued behind it


def test_a_failing_job_rolls_back_alone(db):
    group = GroupCommit(db.transaction)
    group.run(insert(1))
    db.release.clear()
    with ThreadPoolExecutor(4) as pool:
        leader = pool.submit(group.run, insert(2))
        assert db.in_transaction.wait(30)
        batch = [pool.submit(group.run, insert(v)) for v in (3, 1, 4)]  # 1 is taken already
        db.release.set()
        assert leader.result() == 2
        assert batch[0].result() == 3 and batch[2].result() == 4
        with pytest.raises(Exception, match="UNIQUE"):
            batch[1].result()
    assert db.values() == {1, 2, 3, 4}


def test_a_failing_commit_fails_every_job_in_it(db):
    group = GroupCommit(db.transaction)
    db.fail_commit = True
    with pytest.raises(OSError, match="disk I/O"):
        group.run(insert(5))
    db.fail_commit = False
    assert group.run(insert(6)) == 6
    assert db.values() == {6}
