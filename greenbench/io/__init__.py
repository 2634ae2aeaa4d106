"""Files in and out: atomic writes (:mod:`.atomic`), the one safe reader of user files (:mod:`.read`), text from
outside made safe for Markdown and terminals (:mod:`.text`).
"""
