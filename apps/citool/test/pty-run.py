#!/usr/bin/python3
"""Runs a command on a pseudo-terminal (stdin, stdout and stderr are a TTY), as if a person typed.

argv[1] = JSON {argv: [...], env: {...}, cwd, answers: [[regex, text], ...], timeout}
Each answer is typed (followed by Enter) once the output so far matches its regex, in order.
Prints JSON {code, output} where output is everything the terminal showed (stdout and stderr).
"""
import json, os, pty, re, select, signal, sys, time

a = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.chdir(a["cwd"])
    os.execve(a["argv"][0], a["argv"], a["env"])
out = b""
answers = list(a.get("answers", []))
searched_from = 0
deadline = time.time() + a.get("timeout", 40)
while True:
    if time.time() > deadline:
        os.kill(pid, signal.SIGKILL)
        out += b"\n[pty-run] timed out\n"
        break
    r, _, _ = select.select([fd], [], [], 0.1)
    if fd in r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if answers:
        text = out.decode("utf8", "replace")
        m = re.search(answers[0][0], text[searched_from:])
        if m:
            searched_from += m.end()
            os.write(fd, (answers.pop(0)[1] + "\r").encode())
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"code": code, "output": out.decode("utf8", "replace")}))
