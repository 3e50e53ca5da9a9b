/**
 * Registers the built-in report renderers (one per result kind). A new kind adds its file here.
 *
 * @module
 */
import { registerRenderer } from '../registry.ts';
import { copyingRenderer } from './copying.ts';
import { knockoutRenderer } from './knockout.ts';
import { patchRenderer } from './patch.ts';
import { preservationRenderer } from './preservation.ts';
import { scanRenderer } from './scan.ts';
import { steerRenderer } from './steer.ts';
import { steerGenerationRenderer } from './steer-generation.ts';
import { studyRenderer } from './study.ts';
import { transplantRenderer } from './transplant.ts';

for (const r of [scanRenderer, knockoutRenderer, copyingRenderer, steerRenderer, patchRenderer, preservationRenderer, transplantRenderer, steerGenerationRenderer, studyRenderer]) registerRenderer(r);
