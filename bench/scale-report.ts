import type { ScaleResults } from './scale';
export function scaleTargets(_r: ScaleResults): Array<{ measure: string; result: string; target: string; verdict: string }> {
  return [];
}
export function updateScaleSection(_doc: string, _r: ScaleResults, _files: { json: string; charts: string[] }): void {}
export function writeScaleCharts(_r: ScaleResults, _dir: string): string[] {
  return [];
}
