/** The server extension's REST API (ipyckpt/server/handlers.py): works with the kernel dead. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IGenerationList, IVerifyResult } from './protocol';

async function call<T>(
  endpoint: string,
  notebook: string,
  method: string
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url =
    URLExt.join(settings.baseUrl, 'ipyckpt', endpoint) +
    URLExt.objectToQueryString({ path: notebook });
  const response = await ServerConnection.makeRequest(
    url,
    { method },
    settings
  );
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = JSON.parse(text).message || text;
    } catch {
      // not JSON: keep the text
    }
    throw new Error(message || `${response.status} ${response.statusText}`);
  }
  return JSON.parse(text) as T;
}

export function listGenerations(notebook: string): Promise<IGenerationList> {
  return call<IGenerationList>('generations', notebook, 'GET');
}

export function verifyStore(notebook: string): Promise<IVerifyResult> {
  return call<IVerifyResult>('verify', notebook, 'POST');
}

export function deleteGeneration(
  notebook: string,
  generation: number
): Promise<{ deleted: number }> {
  return call<{ deleted: number }>(
    `generations/${generation}`,
    notebook,
    'DELETE'
  );
}
