import test from 'ava';
import { placeholder } from './index.ts';
test('smoke', (t) => { t.is(placeholder, 1); });
