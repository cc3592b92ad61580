/** `logger`: Dex's level and format names (case-insensitive, `warning` for `warn`). */
import { z } from 'zod';

export const loggerSchema = z.object({
  level: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['debug', 'info', 'warn', 'warning', 'error']))
    .transform((s) => (s === 'warning' ? 'warn' : s))
    .default('info'),
  format: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['json', 'text']))
    .default('json'),
});

export type LoggerConfig = z.output<typeof loggerSchema>;
