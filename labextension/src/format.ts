/**
 * Formatting for the status bar, the panel and the notifications. Pure functions: unit-tested
 * with jest. Everything is called a "state checkpoint": Jupyter's own "checkpoints" are
 * snapshots of the notebook file.
 */
import {
  IGeneration,
  IKernelStatus,
  IRecomputeReport,
  IRestoreInfo,
  ISnapshotCell
} from './protocol';

/** 1536 → "1.5 KB" (decimal units, like ipyckpt.reports.format_bytes). */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  for (const unit of units) {
    if (Math.abs(value) < 1000 || unit === 'TB') {
      return unit === 'B'
        ? `${Math.round(value)} B`
        : `${value.toFixed(1)} ${unit}`;
    }
    value /= 1000;
  }
  return `${n} B`;
}

/** Age of a UNIX timestamp (seconds): "just now", "3 min ago", "2 h ago", "4 d ago". */
export function formatAge(
  time: number,
  now: number = Date.now() / 1000
): string {
  const age = Math.max(0, now - time);
  if (age < 10) {
    return 'just now';
  }
  if (age < 60) {
    return `${Math.floor(age)} s ago`;
  }
  if (age < 3600) {
    return `${Math.floor(age / 60)} min ago`;
  }
  if (age < 86400) {
    return `${Math.floor(age / 3600)} h ago`;
  }
  return `${Math.floor(age / 86400)} d ago`;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/**
 * Clock time of a UNIX timestamp: "12:03" today, "Nov 24 12:03" on another day (local time).
 */
export function formatClock(
  time: number,
  now: number = Date.now() / 1000
): string {
  const date = new Date(time * 1000);
  const today = new Date(now * 1000);
  const hm = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  if (date.toDateString() === today.toDateString()) {
    return hm;
  }
  const months = [
    'Jan',
    'Feb',
    'Mar',
    'Apr',
    'May',
    'Jun',
    'Jul',
    'Aug',
    'Sep',
    'Oct',
    'Nov',
    'Dec'
  ];
  return `${months[date.getMonth()]} ${date.getDate()} ${hm}`;
}

/** Seconds as "0.93 s", "12 s", "3 min 5 s". */
export function formatDuration(seconds: number): string {
  if (seconds < 10) {
    return `${seconds.toFixed(2)} s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** How trustworthy a listed generation is, for the panel. */
export function integrity(g: IGeneration): {
  label: string;
  level: 'ok' | 'warning' | 'error';
  detail: string;
} {
  if (g.problem) {
    const untrusted = /sign|trust/i.test(g.problem);
    return {
      label: untrusted ? 'not signed by your key' : 'damaged',
      level: untrusted ? 'warning' : 'error',
      detail: g.problem
    };
  }
  if (g.error) {
    return {
      label: 'taken when the cell failed',
      level: 'warning',
      detail: g.error
    };
  }
  return { label: 'signed', level: 'ok', detail: '' };
}

/** "2 skipped" etc. for a restore; empty when nothing was left out. */
function leftOut(restore: IRestoreInfo): string {
  const skipped = new Set([
    ...Object.keys(restore.skipped),
    ...Object.keys(restore.failed)
  ]);
  const parts: string[] = [];
  if (skipped.size) {
    parts.push(`${skipped.size} skipped`);
  }
  if (restore.conflicts.length) {
    parts.push(`${restore.conflicts.length} kept`);
  }
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/**
 * "Kernel restarted: restored 14 variables from 12:03 (2 skipped)", and what the Recompute
 * button would re-create.
 */
export function restoreNotice(
  restore: IRestoreInfo,
  restarted: boolean,
  now: number = Date.now() / 1000
): string {
  const head = restarted ? 'Kernel restarted' : 'Kernel started';
  const recompute = canRecompute(restore)
    ? `; Recompute re-creates ${recomputedNames(restore)}`
    : '';
  return (
    `${head}: restored ${plural(restore.restored.length, 'variable')} from ` +
    `${formatClock(restore.created, now)}${leftOut(restore)}${recompute}`
  );
}

/** The Details dialog of a restore: one line per fact. */
export function restoreDetails(restore: IRestoreInfo): string[] {
  const lines = [
    `State checkpoint ${restore.generation} (${restore.trigger}), taken ${formatClock(restore.created)}.`
  ];
  if (restore.restored.length) {
    lines.push(`Restored: ${restore.restored.join(', ')}`);
  }
  if (restore.conflicts.length) {
    lines.push(`Kept your current values of: ${restore.conflicts.join(', ')}`);
  }
  if (restore.removed.length) {
    lines.push(
      `Removed (made after that point): ${restore.removed.join(', ')}`
    );
  }
  const reasons = { ...restore.missing, ...restore.skipped, ...restore.failed };
  for (const name of Object.keys(reasons).sort()) {
    const cell = restore.made_by[name];
    lines.push(
      `Not restored ${name}: ${reasons[name]}` +
        (cell ? ` — made by cell ${cell}` : '')
    );
  }
  const offer = restore.recompute;
  if (offer && offer.refusals.length) {
    lines.push(
      `Cannot re-create them by re-running cells: ${offer.refusals.join('; ')}`
    );
  } else if (canRecompute(restore)) {
    lines.push(
      `Recompute re-runs ${plural(offer!.cells.length, 'cell')}, in order: ` +
        offer!.cells.map(c => c.cell).join('; ')
    );
  }
  for (const note of restore.notes) {
    lines.push(`Note: ${note}`);
  }
  return lines;
}

/**
 * A generation's place in the timeline, as `%checkpoint list` shows it: "[12] model.fit(X, y)"
 * right after cell [12], "in [12] for ..." while it ran; null without cell history.
 */
export function cellLabel(
  cell: ISnapshotCell | null | undefined
): string | null {
  if (!cell) {
    return null;
  }
  const where = cell.state === 'after' ? '' : 'in ';
  return `${where}[${cell.count}] ${cell.first_line}`.trimEnd();
}

/** Whether the Recompute button is offered: cells to re-run and nothing blocking them. */
export function canRecompute(restore: IRestoreInfo): boolean {
  const offer = restore.recompute;
  return Boolean(offer && offer.cells.length && !offer.refusals.length);
}

/** The toast after a restore: what came back, what went, what was left out. */
export function restoreMessage(
  restore: IRestoreInfo,
  now: number = Date.now() / 1000
): string {
  const left = Object.keys({
    ...restore.missing,
    ...restore.skipped,
    ...restore.failed
  }).length;
  const parts = [
    `Restored ${plural(restore.restored.length, 'variable')} from state checkpoint ` +
      `${restore.generation} (${formatClock(restore.created, now)})`
  ];
  if (restore.removed.length) {
    parts.push(`${restore.removed.length} made later removed`);
  }
  if (left) {
    parts.push(`${left} skipped`);
  }
  if (canRecompute(restore)) {
    parts.push(`Recompute re-creates ${recomputedNames(restore)}`);
  }
  return parts.join(', ');
}

function recomputedNames(restore: IRestoreInfo): string {
  return (restore.recompute?.cells ?? []).flatMap(c => c.makes).join(', ');
}

/** The toast after Recompute: "Recomputed conn, rows (re-ran cells [3], [4])", or the failure. */
export function recomputeMessage(report: IRecomputeReport): {
  text: string;
  ok: boolean;
} {
  if (report.nothing_missing) {
    return {
      text: 'Nothing to recompute: every variable of the state checkpoint is defined',
      ok: true
    };
  }
  const failed = report.reruns.find(r => r.error !== null);
  if (failed) {
    return {
      text: `Re-running cell [${failed.count}] failed: ${failed.error}`,
      ok: false
    };
  }
  const made = report.reruns.flatMap(r => r.made);
  const cells = report.reruns.map(r => `[${r.count}]`).join(', ');
  return {
    text:
      `Recomputed ${made.join(', ') || 'nothing'} (re-ran ${report.reruns.length === 1 ? 'cell' : 'cells'} ${cells})` +
      (report.unknown.length
        ? `; no recorded cell made ${report.unknown.join(', ')}`
        : ''),
    ok: !report.unknown.length
  };
}

/**
 * What the panel shows for a variable: the summary recorded at save time ("list[100000]",
 * "DataFrame 1,000,000 × 3"), else the type without its module ("builtins.bool" → "bool").
 */
export function variableSummary(typeName: string, summary?: string): string {
  if (summary) {
    return summary;
  }
  return typeName.split('.').pop() || typeName;
}

/**
 * Seconds until `formatAge` of something `age` seconds old reads differently: the status bar
 * and the panel re-render then, so "12 s ago" keeps counting and "3 min ago" ticks each minute.
 */
export function nextAgeChange(age: number): number {
  const steps: [number, number][] = [
    [10, 10],
    [60, 1],
    [3600, 60],
    [86400, 3600]
  ];
  for (const [limit, step] of steps) {
    if (age < limit) {
      return Math.max(0.05, step - (age % step));
    }
  }
  return 86400 - (age % 86400);
}

/**
 * Whether going back to the state after a cell would lose changes no state checkpoint holds:
 * cells changed the state since the last snapshot (the kernel's `protection`).
 */
export function losesUnsavedChanges(
  status: IKernelStatus | null,
  cell: number | undefined
): boolean {
  return cell !== undefined && Boolean(status?.protection?.unsaved_changes);
}
