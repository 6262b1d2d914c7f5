// Runs in every test file's process: each test's zombie checks see only the children it made.
import { beforeEach } from 'vitest';
import { markTestStart } from './helpers';

beforeEach(() => markTestStart());
