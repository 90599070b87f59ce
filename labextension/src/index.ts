/**
 * ipyckpt in JupyterLab: status bar item, "State checkpoints" panel, restore notifications,
 * commands and a notebook toolbar button. This module only wires plugins, one function per
 * concern; the logic lives in notebook.ts (per-notebook state), channel.ts (kernel comm),
 * api.ts (REST), panel.ts/generation.ts (the panel), model.ts/format.ts.
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

/** The user's settings (schema/plugin.json), and a signal when they change. */
class Settings {
  notifications = true;
  statusBar = true;
  readonly changed = new Signal<object, void>(this);

  /** Follow the setting registry (settings stay at their defaults without one). */
  load(registry: ISettingRegistry | null): void {
    void registry?.load(PLUGIN_ID).then(loaded => {
      const update = (): void => {
        this.notifications = loaded.get('notifications').composite as boolean;
        this.statusBar = loaded.get('statusBar').composite as boolean;
        this.changed.emit();
      };
      loaded.changed.connect(update);
      update();
    });
  }
}

/** One NotebookState per open notebook; the panel and the status item follow the current one. */
class Notebooks {
  readonly panel = new StatePanel();
  readonly status: StateStatus;

  constructor(
    private readonly app: JupyterFrontEnd,
    private readonly tracker: INotebookTracker,
    private readonly settings: Settings
  ) {
    this.panel.title.icon = stateIcon;
    this.status = new StateStatus(
      () => void app.commands.execute(CommandIDs.show)
    );
    tracker.widgetAdded.connect((_, notebook) => this._add(notebook));
    tracker.currentChanged.connect(() => this.follow());
  }

  /** The current notebook's state; throws a one-line message without one. */
  current(): NotebookState {
    const state = this._stateOf(this.tracker.currentWidget);
    if (!state) {
      throw new Error('Open a notebook first.');
    }
    return state;
  }

  /** Point the panel and the status item at the current notebook. */
  follow(): void {
    const state = this._stateOf(this.tracker.currentWidget);
    this.status.follow(state);
    this.panel.follow(state);
  }

  showPanel(): void {
    if (!this.panel.isAttached) {
      this.app.shell.add(this.panel, 'right', { rank: 600 });
    }
    this.app.shell.activateById(this.panel.id);
  }

  private _add(notebook: NotebookPanel): void {
    const state = new NotebookState(notebook, {
      notifications: () => this.settings.notifications,
      showPanel: () => this.showPanel()
    });
    this._states.set(notebook, state);
    notebook.disposed.connect(() => {
      this._states.delete(notebook);
      state.dispose();
    });
    if (this.tracker.currentWidget === notebook) {
      this.follow();
    }
  }

  private _stateOf(panel: NotebookPanel | null): NotebookState | null {
    return (panel && this._states.get(panel)) ?? null;
  }

  private readonly _states = new Map<NotebookPanel, NotebookState>();
}

function addStatusItem(
  statusBar: IStatusBar,
  notebooks: Notebooks,
  tracker: INotebookTracker,
  settings: Settings,
  labShell: ILabShell | null
): void {
  statusBar.registerStatusItem(PLUGIN_ID + '-status', {
    item: notebooks.status,
    align: 'left',
    rank: 4,
    isActive: () =>
      settings.statusBar &&
      !!tracker.currentWidget &&
      (!labShell || labShell.currentWidget === tracker.currentWidget),
    activeStateChanged: settings.changed
  });
  labShell?.currentChanged.connect(() => settings.changed.emit());
}

function addCommands(
  app: JupyterFrontEnd,
  notebooks: Notebooks,
  tracker: INotebookTracker,
  palette: ICommandPalette | null
): void {
  const run = async (
    action: (state: NotebookState) => Promise<unknown>
  ): Promise<void> => {
    try {
      await action(notebooks.current());
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
    caption: "Load the notebook's newest good state checkpoint into the kernel",
    isEnabled: hasNotebook,
    execute: () => run(state => state.restore())
  });
  app.commands.addCommand(CommandIDs.show, {
    label: 'Show state checkpoints',
    caption: "List the notebook's state checkpoints",
    execute: () => {
      notebooks.follow();
      notebooks.showPanel();
    }
  });
  for (const command of Object.values(CommandIDs)) {
    palette?.addItem({ command, category: 'State checkpoints' });
  }
}

function addToolbarButton(app: JupyterFrontEnd): void {
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
}

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
    const settings = new Settings();
    const notebooks = new Notebooks(app, tracker, settings);
    if (statusBar) {
      addStatusItem(statusBar, notebooks, tracker, settings, labShell);
    }
    addCommands(app, notebooks, tracker, palette);
    addToolbarButton(app);
    settings.load(settingRegistry);
  }
};

export default plugin;
