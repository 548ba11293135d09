// Shell completion scripts for bash, zsh and fish, generated from the commands' own flag and
// argument definitions (oclif's manifest), so they never drift from the CLI. Secret names are
// completed by running `glassdome list` (the lean path), silently, when a command takes a NAME.
// Pure: text in, text out.

/** What completion needs to know about one command. */
export interface CompletionCommand {
  /** Space-separated words, e.g. "policy check". */
  words: string;
  summary: string;
  flags: Array<{ name: string; char?: string; takesValue: boolean; summary: string }>;
  /** True when its first argument is a secret name. */
  takesName: boolean;
}

/** The shells completion scripts exist for. */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;

/** One of COMPLETION_SHELLS. */
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** The completion script for a shell. */
export function completionScript(shell: CompletionShell, commands: readonly CompletionCommand[], bin = 'glassdome'): string {
  return shell === 'fish' ? fishScript(commands, bin) : bashScript(commands, bin, shell === 'zsh');
}

/** Every word sequence that leads to a command (its prefixes are topics). */
function children(commands: readonly CompletionCommand[], prefix: string): string[] {
  const depth = prefix === '' ? 0 : prefix.split(' ').length;
  const next = new Set<string>();
  for (const c of commands) {
    const words = c.words.split(' ');
    if (words.length > depth && words.slice(0, depth).join(' ') === prefix) next.add(words[depth]!);
  }
  return [...next].sort();
}

function prefixes(commands: readonly CompletionCommand[]): string[] {
  const all = new Set<string>(['']);
  for (const c of commands) {
    const words = c.words.split(' ');
    for (let n = 1; n < words.length; n++) all.add(words.slice(0, n).join(' '));
  }
  return [...all].sort();
}

function flagWords(c: CompletionCommand): string {
  return c.flags.flatMap((f) => [`--${f.name}`, ...(f.char ? [`-${f.char}`] : [])]).join(' ');
}

function bashScript(commands: readonly CompletionCommand[], bin: string, zsh: boolean): string {
  const fn = `_${bin.replace(/\W/g, '_')}_complete`;
  const known = [...new Set([...prefixes(commands).filter(Boolean), ...commands.map((c) => c.words)])];
  const subcommands = prefixes(commands).map((p) => `    '${p}') words='${children(commands, p).join(' ')}' ;;`);
  const flags = commands.map((c) => `    '${c.words}') words='${flagWords(c)} --help' ;;`);
  const valued = commands.flatMap((c) => c.flags.filter((f) => f.takesValue).map((f) => `'${c.words} --${f.name}'${f.char ? `|'${c.words} -${f.char}'` : ''}`));
  const named = commands.filter((c) => c.takesName).map((c) => `'${c.words}'`);
  return `# ${bin} completion for ${zsh ? 'zsh (through bashcompinit)' : 'bash'}: eval "$(${bin} completion ${zsh ? 'zsh' : 'bash'})"
${zsh ? 'autoload -U +X bashcompinit && bashcompinit\n' : ''}${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" next words="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    next="\${cmd:+$cmd }\${COMP_WORDS[i]}"
    case "$next" in
      ${known.map((k) => `'${k}'`).join('|')}) cmd="$next" ;;
      *) break ;;
    esac
  done
  case "$cmd $prev" in
    ${valued.length > 0 ? valued.join('|') : "'-'"}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
${flags.join('\n')}
    esac
  elif (( i == COMP_CWORD )); then
    case "$cmd" in
${subcommands.join('\n')}
      ${named.length > 0 ? named.join('|') : "'-'"}) words="$(${bin} list 2>/dev/null)" ;;
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${bin}
`;
}

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fishScript(commands: readonly CompletionCommand[], bin: string): string {
  const lines = [`# ${bin} completion for fish: ${bin} completion fish | source`, `complete -c ${bin} -f`];
  const seen = (words: string): string => `__fish_${bin.replace(/\W/g, '_')}_at ${words}`;
  lines.push(
    `function __fish_${bin.replace(/\W/g, '_')}_at --description 'true when the words after ${bin} are exactly the given ones (flags aside)'`,
    '    set -l words (commandline -opc | string match -v -- "-*")',
    '    test "$words[2..-1]" = "$argv"',
    'end',
  );
  for (const prefix of prefixes(commands)) {
    for (const child of children(commands, prefix)) {
      const full = prefix ? `${prefix} ${child}` : child;
      const summary = commands.find((c) => c.words === full)?.summary ?? `${full} commands`;
      lines.push(`complete -c ${bin} -n ${fishQuote(seen(prefix))} -a ${child} -d ${fishQuote(summary)}`);
    }
  }
  for (const c of commands) {
    for (const f of c.flags) {
      lines.push(`complete -c ${bin} -n ${fishQuote(seen(c.words))} -l ${f.name}${f.char ? ` -s ${f.char}` : ''}${f.takesValue ? ' -r -F' : ''} -d ${fishQuote(f.summary)}`);
    }
    if (c.takesName) lines.push(`complete -c ${bin} -n ${fishQuote(seen(c.words))} -a '(${bin} list 2>/dev/null)' -d secret`);
  }
  return `${lines.join('\n')}\n`;
}
