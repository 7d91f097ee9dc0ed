// One place that ties Preact and htm together, so pages import a single module.
import { h, render, Fragment } from '../vendor/preact.js';
import { useState, useEffect, useRef, useCallback, useMemo } from '../vendor/hooks.js';
import htm from '../vendor/htm.js';

export const html = htm.bind(h);
export { h, render, Fragment, useState, useEffect, useRef, useCallback, useMemo };
