/** `frontend`: what the login pages show. */
import { z } from 'zod';
import { type RuleContext, type Raw, rec, str } from '../context.ts';
import { httpURL } from '../values.ts';

const THEMES = ['light', 'dark'] as const;

const cssColor = z
  .string()
  .regex(/^[#(),.%\sa-zA-Z0-9-]+$/, { message: 'expected a CSS colour (e.g. "#0b5fff" or "rgb(11, 95, 255)")' });

export const frontendSchema = z.object({
  /** Product name shown on pages (Dex's `issuer` key under `frontend`). */
  issuer: z.string().min(1).default('Gatehouse'),
  logoURL: httpURL.optional(),
  /** Dex themes are folders; Gatehouse ships `light` and `dark`, and falls back to light (checkFrontend warns). */
  theme: z
    .string()
    .default('light')
    .transform((t): (typeof THEMES)[number] => (t === 'dark' ? 'dark' : 'light')),
  /** Gatehouse: theme colours, CSS colour strings. */
  colors: z
    .object({ primary: cssColor.optional(), background: cssColor.optional(), text: cssColor.optional() })
    .optional(),
  extra: z.record(z.string(), z.string()).default({}),
});

export type FrontendConfig = z.output<typeof frontendSchema>;

export function checkFrontend(file: Raw, ctx: RuleContext): void {
  const theme = str(rec(file, 'frontend'), 'theme');
  if (theme !== undefined && !(THEMES as readonly string[]).includes(theme)) {
    ctx.warnings.push({
      path: 'frontend.theme',
      message: `theme "${theme}" is not available (light or dark); using light`,
    });
  }
}
