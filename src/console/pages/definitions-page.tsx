import { DefinitionDetail } from "../definitions/definition-detail.js";
import { DefinitionList } from "../definitions/definition-list.js";
import "../lists/lists.css";
import "../definitions/definitions.css";

/** `/console/definitions`: the list; `/console/definitions/<name>`: one definition, its versions and its start form. */
export function DefinitionsPage(props: { params?: { name?: string } }) {
  const name = props.params?.name;
  return name ? <DefinitionDetail key={name} name={name} /> : <DefinitionList />;
}
