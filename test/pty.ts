// `crystallize new` in a real pseudo-terminal, for the tests of its prompts.
import { spawn } from "node:child_process";
import { BIN } from "./helpers.js";

/** The CLI in a real pseudo-terminal (python3's pty), driven by waiting for what it prints. */
const PTY = `
import fcntl, os, pty, select, struct, sys, termios
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
reading = True
while True:
    ready, _, _ = select.select([fd] + ([0] if reading else []), [], [])
    if fd in ready:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 4096)
        if data:
            os.write(fd, data)
        else:
            reading = False
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

export function terminal(cwd: string) {
  const child = spawn("python3", ["-c", PTY, process.execPath, BIN, "new"], { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["pipe", "pipe", "inherit"] });
  let screen = "";
  let seen = 0;
  let onData = () => {};
  child.stdout.on("data", (c) => {
    screen += String(c).replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r/g, "");
    onData();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  let done = false;
  void exited.then(() => ((done = true), onData()));
  const guard = setTimeout(() => child.kill("SIGKILL"), 60000);
  void exited.then(() => clearTimeout(guard));
  return {
    /** Waits until the output after the last match shows `pattern` (fails if the CLI exits first). */
    async expect(pattern: RegExp): Promise<void> {
      for (;;) {
        const m = pattern.exec(screen.slice(seen));
        if (m) {
          seen += m.index + m[0].length;
          return;
        }
        if (done) throw new Error(`never printed ${pattern}; output:\n${screen}`);
        await new Promise<void>((resolve) => (onData = resolve));
      }
    },
    type: (text: string) => child.stdin.write(text),
    exit: async () => {
      child.stdin.end();
      return exited;
    },
    screen: () => screen,
  };
}
