/**
 * ipyckpt in JupyterLab: status bar item, "State checkpoints" panel, restore notifications,
 * commands and a notebook toolbar button. This module only wires plugins; the logic lives in
 * notebook.ts (per-notebook state), channel.ts (kernel comm), api.ts (REST), model.ts/format.ts.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  Notification,
  ToolbarButton
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';

import { NotebookState } from './notebook';
import { StatePanel } from './panel';
import { StateStatus } from './statusbar';

const PLUGIN_ID = 'ipyckpt:plugin';

const CommandIDs = {
  save: 'ipyckpt:save',
  restoreLatest: 'ipyckpt:restore-latest',
  show: 'ipyckpt:show'
};

export const stateIcon = new LabIcon({
  name: 'ipyckpt:state',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M17 3H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 ' +
    '2-2V7l-4-4zm-5 16a3 3 0 1 1 0-6 3 3 0 0 1 0 6zm3-10H5V5h10v4z"/></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'See, take and restore state checkpoints of notebook variables (ipyckpt).',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IStatusBar, ICommandPalette, ISettingRegistry, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    labShell: ILabShell | null
  ) => {
    const settings = { notifications: true, statusBar: true };
    const settingsChanged = new Signal<object, void>(settings);
    const states = new Map<NotebookPanel, NotebookState>();

    const stateOf = (panel: NotebookPanel | null): NotebookState | null =>
      (panel && states.get(panel)) ?? null;
    const current = (): NotebookState => {
      const state = stateOf(tracker.currentWidget);
      if (!state) {
        throw new Error('Open a notebook first.');
      }
      return state;
    };

    const panel = new StatePanel();
    panel.title.icon = stateIcon;
    const showPanel = (): void => {
      if (!panel.isAttached) {
        app.shell.add(panel, 'right', { rank: 600 });
      }
      app.shell.activateById(panel.id);
    };

    tracker.widgetAdded.connect((_, notebook) => {
      const state = new NotebookState(notebook, {
        notifications: () => settings.notifications,
        showPanel
      });
      states.set(notebook, state);
      notebook.disposed.connect(() => {
        states.delete(notebook);
        state.dispose();
      });
      if (tracker.currentWidget === notebook) {
        follow();
      }
    });

    const status = new StateStatus(
      () => void app.commands.execute(CommandIDs.show)
    );
    const follow = (): void => {
      const state = stateOf(tracker.currentWidget);
      status.follow(state);
      panel.follow(state);
    };
    tracker.currentChanged.connect(follow);

    if (statusBar) {
      statusBar.registerStatusItem(PLUGIN_ID + '-status', {
        item: status,
        align: 'left',
        rank: 4,
        isActive: () =>
          settings.statusBar &&
          !!tracker.currentWidget &&
          (!labShell || labShell.currentWidget === tracker.currentWidget),
        activeStateChanged: settingsChanged
      });
      labShell?.currentChanged.connect(() => settingsChanged.emit());
    }

    const run = async (
      action: (state: NotebookState) => Promise<unknown>
    ): Promise<void> => {
      try {
        await action(current());
      } catch (error) {
        Notification.error(String((error as Error).message ?? error), {
          autoClose: 10_000
        });
      }
    };
    const hasNotebook = (): boolean => tracker.currentWidget !== null;

    app.commands.addCommand(CommandIDs.save, {
      label: 'Save state checkpoint now',
      caption: "Save the notebook's variables as a state checkpoint now",
      icon: args => (args.toolbar ? stateIcon : undefined),
      isEnabled: hasNotebook,
      execute: () => run(state => state.save())
    });
    app.commands.addCommand(CommandIDs.restoreLatest, {
      label: 'Restore latest state checkpoint',
      caption:
        "Load the notebook's newest good state checkpoint into the kernel",
      isEnabled: hasNotebook,
      execute: () => run(state => state.restore())
    });
    app.commands.addCommand(CommandIDs.show, {
      label: 'Show state checkpoints',
      caption: "List the notebook's state checkpoints",
      execute: () => {
        follow();
        showPanel();
      }
    });
    if (palette) {
      for (const command of [
        CommandIDs.save,
        CommandIDs.restoreLatest,
        CommandIDs.show
      ]) {
        palette.addItem({ command, category: 'State checkpoints' });
      }
    }

    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (notebook: NotebookPanel) => {
        const button = new ToolbarButton({
          icon: stateIcon,
          tooltip: 'State checkpoints: save now, restore, list (ipyckpt)',
          onClick: () => {
            void app.commands.execute(CommandIDs.show);
          }
        });
        button.node.dataset.ipyckpt = 'toolbar';
        notebook.toolbar.insertItem(10, 'ipyckpt', button);
        return button;
      }
    });

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(loaded => {
        const update = (): void => {
          settings.notifications = loaded.get('notifications')
            .composite as boolean;
          settings.statusBar = loaded.get('statusBar').composite as boolean;
          settingsChanged.emit();
        };
        loaded.changed.connect(update);
        update();
      });
    }
  }
};

export default plugin;
