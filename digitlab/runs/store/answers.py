"""Lessons: each person's answers (the last one to each question, how many tries, whether it was right) and which
lessons a teacher has opened to the class."""

import json
import time


class Answers:
    def record_answer(self, owner: str, lesson: str, question: str, answer: str, correct: bool) -> int:
        """Keep an answer; returns how many this person has given to the question. A question once answered right
        stays answered right (and keeps that answer): a later wrong click does not undo a lesson done."""
        with self._db() as db:
            db.execute("INSERT INTO lesson_answers (owner, lesson, question, answer, correct, tries, at) "
                       "VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (owner, lesson, question) DO UPDATE SET "
                       "answer=CASE WHEN correct=1 AND excluded.correct=0 THEN answer ELSE excluded.answer END, "
                       "correct=max(correct, excluded.correct), tries=tries + 1, at=excluded.at",
                       (owner, lesson, question, answer, int(correct), time.time()))
            return db.execute("SELECT tries FROM lesson_answers WHERE owner=? AND lesson=? AND question=?",
                              (owner, lesson, question)).fetchone()[0]

    def answers(self, owner: str | None = None) -> list[dict]:
        """Answers given, oldest first: everyone's, or one person's."""
        where, args = ("WHERE owner=?", (owner,)) if owner is not None else ("", ())
        with self._db() as db:
            rows = db.execute(f"SELECT owner, lesson, question, answer, correct, tries, at FROM lesson_answers {where} "
                              "ORDER BY at", args).fetchall()
        return [dict(r, correct=bool(r["correct"])) for r in rows]

    def open_lessons(self) -> list[str] | None:
        """The lessons a teacher has opened to the class, or None where none has chosen (all are open)."""
        value = self.option("lessons_open", "")
        return json.loads(value) if value else None

    def set_open_lessons(self, lesson_ids: list[str]) -> None:
        self.set_option("lessons_open", json.dumps(sorted(set(lesson_ids))))
