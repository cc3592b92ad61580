/** The single stylesheet, themed from `config.frontend` (light/dark + optional colours). Colours
 * are validated as plain CSS colour tokens so a config value cannot inject CSS. */
import type { FrontendConfig } from '../../../config/types.ts';

const SAFE_COLOR = /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]{1,40}\))$/;

function color(value: string | undefined, fallback: string): string {
  return value !== undefined && SAFE_COLOR.test(value.trim()) ? value.trim() : fallback;
}

export function stylesheet(frontend: FrontendConfig): string {
  const dark = frontend.theme === 'dark';
  // Defaults meet WCAG AA contrast (text ≥ 7:1 on background, button text ≥ 4.5:1).
  const bg = color(frontend.colors?.background, dark ? '#15171c' : '#f4f5f7');
  const text = color(frontend.colors?.text, dark ? '#eceff4' : '#1b1f24');
  const primary = color(frontend.colors?.primary, dark ? '#7aa7ff' : '#1f4fbf');
  const card = dark ? '#1f232b' : '#ffffff';
  const muted = dark ? '#b8c0cc' : '#4a5260';
  const onPrimary = dark ? '#0b0d10' : '#ffffff';
  return `:root{--bg:${bg};--text:${text};--primary:${primary};--card:${card};--muted:${muted};--on-primary:${onPrimary};--error:${dark ? '#ff8a80' : '#a4161a'}}
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:16px;line-height:1.5;background:var(--bg);color:var(--text)}
body{margin:0;padding:1rem}
.top{max-width:28rem;margin:1rem auto;text-align:center}
.logo{max-height:3rem;max-width:100%}
.product{font-weight:600;font-size:1.25rem}
.card{max-width:28rem;margin:0 auto;padding:1.5rem;background:var(--card);border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.2)}
h1{font-size:1.4rem;margin:0 0 1rem}
p{margin:.5rem 0 1rem}
.muted{color:var(--muted)}
ul.connectors{list-style:none;padding:0;margin:0}
ul.connectors li{margin:.5rem 0}
a.button,button{display:block;width:100%;padding:.7rem 1rem;font-size:1rem;border-radius:.35rem;border:2px solid var(--primary);background:var(--primary);color:var(--on-primary);text-align:center;text-decoration:none;cursor:pointer}
button.secondary,a.button.secondary{background:transparent;color:var(--text)}
a.button:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid var(--primary);outline-offset:2px}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text],input[type=email],input[type=password]{display:block;width:100%;padding:.6rem;font-size:1rem;border:1px solid var(--muted);border-radius:.35rem;background:var(--card);color:var(--text)}
.actions{margin-top:1.25rem;display:grid;gap:.75rem}
.error{color:var(--error);font-weight:600;border-left:4px solid var(--error);padding-left:.75rem}
ul.scopes{padding-left:1.25rem}
code{font-family:ui-monospace,monospace;font-size:.9em}
`;
}
